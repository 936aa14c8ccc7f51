import CoreConnectors

/// The SMB helper's read-ahead: while the daemon decodes one chunk, the helper already fetches
/// the next from the share, so the network and the pipe are busy at the same time instead of in
/// turn (one libsmbclient read waits for its whole answer; nothing else would overlap it).
///
/// It only reads bytes a run will ask for: ahead of a bulk read (never of the small fingerprint
/// reads of the head and the window before a saved position), and never past the size the last
/// listing or stat showed for the file. What it holds is dropped with the next listing, when the
/// file is closed or changed, at the end of a run and after any error, so a file rewritten
/// between runs is never served from an older copy.
struct SMBReadAhead {
    /// Bytes fetched per read ahead (at least the run's own chunk size).
    let blockSize: Int
    /// Reads shorter than this are fingerprint checks, not the run reading on.
    let bulkThreshold: Int

    init(blockSize: Int = 1 << 20, bulkThreshold: Int = 64 << 10) {
        self.blockSize = blockSize
        self.bulkThreshold = bulkThreshold
    }

    /// The files' sizes as last listed or stat'ed: the read-ahead never goes past them.
    private var listedSizes: [String: Int64] = [:]
    /// Bytes of `path` fetched ahead: `bytes[used...]` are those of `path` from `offset`.
    private struct Held {
        var path: String
        var offset: Int64
        var bytes: [UInt8]
        var used: Int
        var remaining: Int { bytes.count - used }
        var end: Int64 { offset + Int64(remaining) }
    }
    private var held: Held?
    /// Where the last bulk read ended, when the next one would follow it.
    private var next: (path: String, offset: Int64, length: Int)?

    /// Bytes served from what was read ahead.
    private(set) var servedFromAhead: Int64 = 0

    mutating func listed(_ folder: String, _ entries: [RemoteEntry]) {
        dropHeld()
        for e in entries { listedSizes[folder.isEmpty ? e.name : folder + "/" + e.name] = e.size }
    }

    mutating func statted(_ path: String, _ entry: RemoteEntry?) {
        if held?.path == path { dropHeld() }
        listedSizes[path] = entry?.size
    }

    /// The file was closed, removed or moved (`nil`: the run ended): nothing held stays.
    mutating func forget(_ path: String?) {
        if path == nil || held?.path == path { dropHeld() }
    }

    /// `length` bytes of `path` from `offset` (fewer only at its end), from what is held when it
    /// begins there, else from the share.
    /// Runs in the caller's isolation (the helper's loop on the SMB thread), so reaching the
    /// client on that same thread switches no thread.
    mutating func read(_ path: String, offset: Int64, length: Int, from client: some RemoteFileClient,
                       isolation: isolated (any Actor)? = #isolation) async throws -> [UInt8] {
        next = nil
        var out: [UInt8] = []
        if var h = held, h.path == path, h.offset == offset, h.remaining > 0 {
            let take = min(length, h.remaining)
            out = Array(h.bytes[h.used..<(h.used + take)])
            servedFromAhead += Int64(take)
            h.used += take
            h.offset += Int64(take)
            held = h.remaining > 0 ? h : nil
        } else {
            dropHeld()
        }
        if out.count < length {
            do {
                out += try await client.read(path, offset: offset + Int64(out.count), length: length - out.count)
            } catch {
                dropHeld()
                throw error
            }
        }
        if length >= bulkThreshold && out.count == length { next = (path, offset + Int64(length), length) }
        return out
    }

    /// After the answer to a bulk read went out: fetch the bytes the run will ask for next, when
    /// fewer than one more request's worth are held and the listed size says they exist. A
    /// failure is not reported here: the next request meets it again, or reconnects.
    mutating func readAhead(from client: some RemoteFileClient, isolation: isolated (any Actor)? = #isolation) async {
        guard let n = next else { return }
        next = nil
        guard let size = listedSizes[n.path] else { return }
        if let h = held, h.path != n.path || h.offset != n.offset { dropHeld() }
        let from = held?.end ?? n.offset
        guard from - n.offset < Int64(n.length), from < size else { return }
        let want = Int(min(Int64(max(blockSize, n.length)), size - from))
        do {
            let bytes = try await client.read(n.path, offset: from, length: want)
            if var h = held {
                h.bytes = Array(h.bytes[h.used...]) + bytes
                h.used = 0
                held = h
            } else if !bytes.isEmpty {
                held = Held(path: n.path, offset: n.offset, bytes: bytes, used: 0)
            }
        } catch {
            dropHeld()
        }
    }

    private mutating func dropHeld() {
        held = nil
        next = nil
    }
}
