//! Security layer (placeholder).
