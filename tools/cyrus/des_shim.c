/* des_shim.c - LD_PRELOAD shim used ONLY for the fixtures in
 * fixtures/cyrus/3des-shim/.
 *
 * OpenSSL 3's DES_key_sched() returns -1 for a key whose parity bits are not
 * odd, although it still fills in the key schedule (verified: the schedule
 * equals DES_set_key_unchecked's). DIGEST-MD5's 7->8 byte key expansion never
 * sets parity bits; Cyrus's init_3des treats the -1 as failure ("failed to
 * init cipher '3des'"), while init_des ignores the return value. This shim
 * makes DES_key_sched behave as on OpenSSL 1.1 (schedule, return 0), so the
 * unmodified Cyrus 3des code path runs. Nothing else is changed.
 */
#include <openssl/des.h>

int DES_key_sched(const_DES_cblock *key, DES_key_schedule *schedule)
{
    DES_set_key_unchecked(key, schedule);
    return 0;
}
