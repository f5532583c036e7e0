#if os(Linux)
/// glibc's mallopt(3); Swift's Glibc module leaves out <malloc.h>, so declared here with its
/// parameters' values from that header (stable glibc ABI).
@_silgen_name("mallopt") private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
private let M_TRIM_THRESHOLD: Int32 = -1, M_MMAP_MAX: Int32 = -4
#endif

/// glibc serves every allocation above 32 MB (its largest mmap threshold) with a fresh mmap and
/// unmaps it on free, so each of online EM's per-batch arrays (K·(l+1)·d doubles: 138 MB at
/// K = 2000) came back as new pages the kernel zeroed on first touch. Keeping large blocks on the
/// heap, and freed ones there for reuse, took the host part of a K = 2000 online-EM step from
/// ~1.2 s to ~0.5 s on the 2-core machine (README, Speed). The heap then keeps its peak size until
/// the process ends, which a command-line run does soon.
enum HeapSettings {
    static func keepLargeBlocksOnHeap() {
        #if os(Linux)
        _ = mallopt(M_MMAP_MAX, 0)                 // no mmap'd blocks: all from the heap
        _ = mallopt(M_TRIM_THRESHOLD, Int32.max)   // and freed memory stays for the next batch
        #endif
    }
}
