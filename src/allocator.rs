//! The global allocator: jemalloc, for every program linking iptlint (the
//! binary, its tests, benches and examples, so that they measure what users
//! run), unless built without the default `jemalloc` feature (e.g. for a
//! heap profiler that watches the C library's `malloc`).
//!
//! Why: parsing allocates a few small vectors per rule on both threads while
//! the model is assembled on one of them, and glibc's `malloc` made those
//! threads wait on each other's arena locks (`perf`: 2.6% of the samples of
//! `check` on a 10,000-service dump waiting in `__lll_lock_wait_private`).
//! With jemalloc `check` took about 12% less time and CPU there (20 runs
//! interleaved with the build before; README, performance). ruff makes the
//! same choice.

/// The allocator itself.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main`. One arena for all threads: the
/// per-thread caches already keep threads from waiting on each other, and an
/// arena per thread held more memory at the peak (10,000-service dump: 244 MB
/// instead of 248 - 262 MB, and no slower).
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: Option<&'static std::ffi::c_char> = Some(unsafe { &*c"narenas:1".as_ptr() });
