//! The atomics of the structures shared between threads (`fdb`): the standard library's, or
//! loom's when the crate is built for model checking with `RUSTFLAGS="--cfg loom"` (see the
//! `loom` tests in `fdb` and `pipeline`). Only code that is model-checked imports from here.

#[cfg(loom)]
pub(crate) use loom::{
    hint::spin_loop,
    sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering},
};

#[cfg(not(loom))]
pub(crate) use core::{
    hint::spin_loop,
    sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering},
};
