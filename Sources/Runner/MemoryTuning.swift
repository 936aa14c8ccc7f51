import ConnectorKit
import CSystemTuning

/// glibc allocator settings for what this process runs.
///
/// Batches are allocated on the cooperative pool's threads and freed on a sink's own thread;
/// with glibc's defaults each thread keeps freed memory in an arena of its own, and the mmap
/// threshold floats up until the 1 MiB read chunks live in the heap. Two arenas and a fixed
/// 256 KiB threshold keep a 2M-row PostgreSQL load about 5 MiB smaller at its peak; its speed is
/// the server's. Where every sink holds large buffers anyway (Parquet row groups), a 4 MiB
/// threshold lets freed read chunks be reused instead of mapped and faulted in again, which was
/// a fifth of a CSV → Parquet load's time (BENCHMARKS.md).
enum MemoryTuning {
    static let arenas: Int32 = 2
    static let streamingThreshold: Int32 = 256 * 1024
    static let largeBufferThreshold: Int32 = 4 * 1024 * 1024

    /// The default, before any pipeline is known.
    static func applyDefault() {
        _ = sluice_tune_malloc(arenas, streamingThreshold)
    }

    /// Settings for running these pipelines.
    static func apply(for pipelines: [Pipeline]) {
        let large = !pipelines.isEmpty && pipelines.allSatisfy { $0.sink.memoryUse == .holdsLargeBuffers }
        _ = sluice_tune_malloc(arenas, large ? largeBufferThreshold : streamingThreshold)
    }
}
