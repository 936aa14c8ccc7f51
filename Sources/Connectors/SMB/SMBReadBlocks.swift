import CoreConnectors

/// Bulk reads of a file in blocks, for SMB in-process (`sluice cat`, `sluice once` of one share).
///
/// A run reads a file in 256 KiB chunks, and libsmbclient sends each `smbc_read` as its own
/// request and waits for the whole answer: on a fast link the round trips, not the bytes, set the
/// pace (a 200 MiB pull took 0.23–0.29 s in 256 KiB reads, 0.18–0.20 s in 1 MiB blocks, and
/// smbclient, which keeps several reads in flight, 0.17–0.22 s). Reading a block of 1 MiB per
/// request and serving the chunks from it takes a quarter of the round trips. (The helper process has its own read-ahead,
/// `SMBReadAhead`, which also overlaps the network with the daemon's work.)
///
/// Like the helper's read-ahead, it reads only bytes a run will ask for: blocks start where a
/// bulk read starts (never for the small fingerprint reads) and end at the size the last listing
/// or stat showed. What it holds is dropped with the next listing, when the file is closed,
/// removed, moved or stat'ed, at the end of a run and after any error.
struct SMBReadBlocks {
    /// Bytes per block; 0: off (every read goes to the share as asked).
    let blockSize: Int
    /// Reads shorter than this are fingerprint checks, not a run reading on.
    let bulkThreshold: Int

    init(blockSize: Int, bulkThreshold: Int = 64 << 10) {
        self.blockSize = blockSize
        self.bulkThreshold = bulkThreshold
    }

    /// The block's buffer, allocated once and reused (a fresh megabyte per block
    /// would be mapped and faulted in each time).
    private var storage: [UInt8] = []
    /// `storage[0..<count]` are the bytes of `path` from `offset`; `reachedEnd`: the share had
    /// no more (the file ended before the block did).
    private var path: String?
    private var offset: Int64 = 0
    private var count = 0
    private var reachedEnd = false
    /// The files' sizes as last listed or stat'ed: a block never goes past them.
    private var listedSizes: [String: Int64] = [:]

    mutating func listed(_ folder: String, _ entries: [RemoteEntry]) {
        forget(nil)
        for e in entries { listedSizes[folder.isEmpty ? e.name : folder + "/" + e.name] = e.size }
    }

    mutating func statted(_ path: String, _ entry: RemoteEntry?) {
        forget(path)
        listedSizes[path] = entry?.size
    }

    /// The file was closed, removed or moved (`nil`: any file; the run ended or a call failed).
    mutating func forget(_ path: String?) {
        if path == nil || self.path == path { self.path = nil }
    }

    /// `length` bytes of `path` from `offset` (fewer only where the file ended) when the block
    /// holds them.
    func served(_ path: String, offset: Int64, length: Int) -> [UInt8]? {
        guard self.path == path, offset >= self.offset else { return nil }
        let start = offset - self.offset
        guard start + Int64(length) <= Int64(count) || (reachedEnd && start <= Int64(count)) else { return nil }
        let from = Int(start)
        return Array(storage[from..<min(count, from + length)])
    }

    /// How many bytes to read into a block for a read of `length` at `offset`: nil when this
    /// read goes to the share as it is (blocks off, a fingerprint read, a size never listed).
    func blockLength(_ path: String, offset: Int64, length: Int) -> Int? {
        guard blockSize > 0, length >= bulkThreshold, let size = listedSizes[path], offset < size else { return nil }
        return max(length, Int(min(Int64(blockSize), size - offset)))
    }

    /// The block a read-ahead would fetch at `offset` of `path` (the next after a bulk read): its
    /// length, and how many bytes the file has left from there; nil past the listed size.
    func blockAhead(_ path: String, at offset: Int64) -> (length: Int, left: Int64)? {
        guard blockSize > 0, let size = listedSizes[path], offset < size else { return nil }
        return (Int(min(Int64(blockSize), size - offset)), size - offset)
    }

    /// The block's buffer, at least `length` bytes, taken out to be refilled: nothing is held
    /// until `hold` puts it back. (Taken out, not filled in place: the share read may fail and
    /// disconnect, which forgets the block, while the buffer is being written.)
    mutating func takeBuffer(_ length: Int) -> [UInt8] {
        path = nil
        var buffer: [UInt8] = []
        swap(&buffer, &storage)
        if buffer.count < length { buffer = [UInt8](repeating: 0, count: max(length, blockSize)) }
        return buffer
    }

    /// Puts the buffer back holding `count` bytes of `path` from `offset` (nil: a failed read,
    /// nothing held); fewer than `requested` means the file ended.
    mutating func hold(_ buffer: [UInt8], path: String?, offset: Int64, count: Int, requested: Int) {
        storage = buffer
        self.path = path
        self.offset = offset
        self.count = count
        reachedEnd = count < requested
    }
}
