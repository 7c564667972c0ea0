//! Steady-state sealing and unsealing performs no heap allocation.

mod layer_common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use layer_common::*;
use sasl_digest_md5::layer::FrameDecoder;
use sasl_digest_md5::Side;

/// Counts allocations made by the current thread.
struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

#[test]
fn no_allocation_per_message_in_steady_state() {
    // The counter works: an allocation is seen.
    let before = allocs();
    let v = std::hint::black_box(vec![1u8; 10]);
    assert_eq!(allocs() - before, 1);
    drop(v);

    for (qop, cipher) in CONFIGS {
        for from in [Side::Client, Side::Server] {
            let Pipe { mut tx, mut rx } = pipe(qop, cipher, from, 65536);
            let max = tx.max_plaintext_len();
            let msgs: Vec<Vec<u8>> = [0, 1, 7, 8, 9, 1000, max]
                .iter()
                .map(|&n| msg(n, 5))
                .collect();
            let mut wire = Vec::with_capacity(70_000);
            let mut plain = Vec::with_capacity(70_000);
            let mut inplace = Vec::with_capacity(70_000);
            let mut dec = FrameDecoder::new(65536).unwrap();
            // Warm-up: let the frame decoder's buffer reach its size.
            wire.clear();
            tx.seal_frame(&msgs[6], &mut wire).unwrap();
            let (_, f) = dec.feed(&wire).unwrap();
            rx.unseal_in_place(f.unwrap()).unwrap();

            let before = allocs();
            for round in 0..4 {
                for m in &msgs {
                    // seal -> unseal (copying into `plain`)
                    wire.clear();
                    plain.clear();
                    tx.seal(m, &mut wire).unwrap();
                    rx.unseal(&wire, &mut plain).unwrap();
                    assert_eq!(plain.len(), m.len());

                    // seal_in_place -> unseal_in_place
                    inplace.clear();
                    inplace.extend_from_slice(m);
                    tx.seal_in_place(&mut inplace).unwrap();
                    let n = rx.unseal_in_place(&mut inplace).unwrap();
                    assert_eq!(n, m.len());

                    // seal_frame -> frame decoder (fed in two chunks) -> in place
                    wire.clear();
                    tx.seal_frame(m, &mut wire).unwrap();
                    let split = (round * 7) % wire.len();
                    let (used, f) = dec.feed(&wire[..split]).unwrap();
                    assert!(f.is_none() && used == split);
                    let (_, f) = dec.feed(&wire[split..]).unwrap();
                    let n = rx.unseal_in_place(f.unwrap()).unwrap();
                    assert_eq!(n, m.len());
                }
            }
            let count = allocs() - before;
            assert_eq!(count, 0, "{qop} {cipher:?} {from:?}: {count} allocations");
        }
    }
}
