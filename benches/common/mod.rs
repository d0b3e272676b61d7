//! What the benches share: a global allocator that counts heap operations, so each bench
//! can print how many allocations one verification makes before criterion times it.
//!
//! A bench binary installs it with
//! `#[global_allocator] static GLOBAL: common::CountingAllocator = common::CountingAllocator;`.
//!
//! With `GUESTPASS_BENCH_ALLOC_TRACE=1` in the environment, every allocation made inside
//! [`heap_ops_per_call`]'s first call is printed with a backtrace: where the counts come from.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Counts the allocations and reallocations made through the global allocator.
pub struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static REALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static TRACING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set while a backtrace is being taken, whose own allocations are not traced.
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

/// Counts one heap operation (not those of a backtrace being taken) and, when tracing,
/// prints where it came from.
fn record(counter: &AtomicUsize, what: &str, size: usize) {
    if IN_TRACE.with(Cell::get) {
        return;
    }
    counter.fetch_add(1, Ordering::Relaxed);
    if !TRACING.load(Ordering::Relaxed) {
        return;
    }
    IN_TRACE.with(|t| t.set(true));
    eprintln!(
        "--- {what} of {size} bytes at\n{}",
        std::backtrace::Backtrace::force_capture()
    );
    IN_TRACE.with(|t| t.set(false));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(&ALLOCATIONS, "alloc", layout.size());
        // SAFETY: forwarded as received; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(&ALLOCATIONS, "alloc_zeroed", layout.size());
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(&REALLOCATIONS, "realloc", new_size);
        // SAFETY: `ptr` and `layout` came from this allocator, which is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` and `layout` came from this allocator, which is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Heap operations made by a closure, averaged over the calls measured.
pub struct HeapOps {
    /// Allocations per call.
    pub allocs: f64,
    /// Reallocations per call.
    pub reallocs: f64,
}

impl std::fmt::Display for HeapOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} allocs + {:.1} reallocs", self.allocs, self.reallocs)
    }
}

/// Heap operations made by `f`, averaged over `runs` calls. Only meaningful when the
/// bench binary installed [`CountingAllocator`] and runs nothing else concurrently.
pub fn heap_ops_per_call(runs: usize, mut f: impl FnMut()) -> HeapOps {
    let trace_first = std::env::var_os("GUESTPASS_BENCH_ALLOC_TRACE").is_some();
    let (a, r) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        REALLOCATIONS.load(Ordering::Relaxed),
    );
    for i in 0..runs {
        if i == 0 && trace_first {
            eprintln!("=== allocations of one call:");
            TRACING.store(true, Ordering::Relaxed);
        }
        f();
        TRACING.store(false, Ordering::Relaxed);
    }
    HeapOps {
        allocs: (ALLOCATIONS.load(Ordering::Relaxed) - a) as f64 / runs as f64,
        reallocs: (REALLOCATIONS.load(Ordering::Relaxed) - r) as f64 / runs as f64,
    }
}
