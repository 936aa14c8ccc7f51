import ConnectorKit
import Connectors
import CSystemTuning

/// glibc allocator settings, applied at start.
///
/// Batches are allocated on the cooperative pool's threads and freed on a sink's own thread;
/// with glibc's defaults each thread keeps freed memory in an arena of its own, and the mmap
/// threshold floats up with every large block freed, so the heap keeps whatever was largest.
/// Two arenas and a fixed threshold just above the tailer's read chunk keep a 2M-row load near
/// its working set. The read chunks (and the batches, which point into them) stay below the
/// threshold: served from the heap and reused, not mapped and faulted in again for every
/// megabyte read, which cost a fifth of a CSV load's time (BENCHMARKS.md).
enum MemoryTuning {
    static let arenas: Int32 = 2
    /// Also above the reply buffer libsmbclient allocates for an in-process SMB block read
    /// (`SMBReadBlocks`, 1 MiB): mapped afresh, every block cost 256 page faults, and a 200 MiB
    /// pull in blocks took longer than in chunks.
    static let mmapThreshold = Int32(max(TailerOptions.defaultChunkSize, SMBConfiguration.inProcessReadBlock) + 512 * 1024)
    /// Free memory kept at the top of the heap. A fixed mmap threshold leaves glibc's trim
    /// threshold at 128 KiB, so each freed read chunk was handed back to the system and the next
    /// one faulted in afresh: 57,000 page faults for a 107 MB file, all in the copy into the carry
    /// buffer.
    static let trimThreshold = Int32(8 << 20)

    static func apply() {
        _ = sluice_tune_malloc(arenas, mmapThreshold)
        _ = sluice_keep_free_heap(trimThreshold)
    }

    /// The SMB helper holds a read-ahead block or two (SMBReadAhead) and little else: blocks of
    /// that size stay on its heap and are reused, instead of being mapped and faulted in afresh
    /// for every megabyte (a quarter of a pull's time went to page faults).
    static func applyForSMBHelper() {
        _ = sluice_tune_malloc(1, 4 << 20)
        _ = sluice_keep_free_heap(8 << 20)
    }
}
