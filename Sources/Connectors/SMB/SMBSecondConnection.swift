#if canImport(Glibc)
import Glibc
#endif
import CSMBClient
import Logging

/// The owner of a second connection to a share: a child process forked from this one, with a
/// libsmbclient context of its own, that reads one block at a time into memory it shares with
/// this process (`second_connection.c` says why a forked child and not a thread or a helper).
/// `SMBClient` asks it for every other block of a large file, so two reads are in flight.
///
/// One request at a time; the answer must be collected (or the connection stopped) before the
/// next. Used only on the SMB thread, by the `SMBClient` that made it: not `Sendable`.
final class SMBSecondConnection {
    private var handle = sluice_smbc_second()
    /// The read asked for and not yet answered; `usable` is false once what it reads may be
    /// older than the file (a listing, a stat, the file closed or the run ended since).
    private(set) var pending: (path: String, offset: Int64, length: Int, usable: Bool)?
    /// The file the child has open.
    private var openPath: String?
    private let answerTimeoutMilliseconds: Int32

    /// The child's process id (tests end it to show a read survives it).
    var processID: pid_t { handle.pid }

    /// Forks the child; it logs in with `settings` and `login` on its first request. Throws the errno.
    init(settings: sluice_smbc_settings, login: SMBLogin, blockSize: Int, answerTimeoutSeconds: Double) throws(SMBSecondConnectionFailure) {
        answerTimeoutMilliseconds = Int32(min(Double(Int32.max), answerTimeoutSeconds * 1000))
        var settings = settings
        var handle = sluice_smbc_second()
        let code = login.user.withCString { user in
            login.domain.withCString { domain in
                login.password.value.withCString { password in
                    sluice_smbc_second_start(&handle, &settings, user, domain, password, blockSize)
                }
            }
        }
        guard code == 0 else { throw SMBSecondConnectionFailure(code: code, what: "cannot start") }
        self.handle = handle
    }

    deinit {
        sluice_smbc_second_stop(&handle)
    }

    /// Asks for `length` bytes of `path` (at `url`) from `offset`.
    func ask(_ path: String, url: String, offset: Int64, length: Int) throws(SMBSecondConnectionFailure) {
        precondition(pending == nil, "one request at a time")
        let code = sluice_smbc_second_ask(&handle, url, offset, Int32(length))
        guard code == 0 else { throw SMBSecondConnectionFailure(code: code, what: "cannot send a read") }
        pending = (path, offset, length, true)
        openPath = path
    }

    /// Whether the pending read is the block of `path` from `offset` of `length` bytes, still usable.
    func holds(_ path: String, offset: Int64, length: Int) -> Bool {
        guard let p = pending else { return false }
        return p.usable && p.path == path && p.offset == offset && p.length == length
    }

    /// Waits for the pending read and copies its bytes into `buffer`: how many, and how many were
    /// asked (fewer came only at the file's end).
    func collect(into buffer: UnsafeMutableRawBufferPointer) throws(SMBSecondConnectionFailure) -> (count: Int, asked: Int) {
        guard let p = pending else { return (0, 0) }
        let count = try answer()
        precondition(count <= buffer.count, "the block asked for is larger than the buffer")
        buffer.baseAddress!.copyMemory(from: handle.block, byteCount: count)
        return (count, p.length)
    }

    /// What the pending read found may be older than the file: it is never served.
    func forget(_ path: String?) {
        if path == nil || pending?.path == path { pending?.usable = false }
    }

    /// Waits for a pending read that will not be used, so the next request can go.
    func settle() throws(SMBSecondConnectionFailure) {
        if pending != nil { _ = try answer() }
    }

    /// Closes the child's handle on `path`, if it has one (before the file is moved or removed:
    /// a handle open elsewhere could refuse that on a Windows server).
    func closeFile(_ path: String) throws(SMBSecondConnectionFailure) {
        guard openPath == path else { return }
        try settle()
        let code = sluice_smbc_second_ask(&handle, "", 0, 0)
        guard code == 0 else { throw SMBSecondConnectionFailure(code: code, what: "cannot send a close") }
        pending = (path, 0, 0, false)
        _ = try answer()
        openPath = nil
    }

    private func answer() throws(SMBSecondConnectionFailure) -> Int {
        defer { pending = nil }
        var count: Int64 = 0
        let code = sluice_smbc_second_answer(&handle, answerTimeoutMilliseconds, &count)
        guard code == 0 else { throw SMBSecondConnectionFailure(code: code, what: "read failed") }
        return Int(count)
    }
}

/// Why the second connection stopped helping: the source reads on with one.
struct SMBSecondConnectionFailure: Error, CustomStringConvertible {
    var code: Int32
    var what: String
    var description: String { "\(what): \(SMBError.errnoText(code))" }
}

/// When `SMBClient` reads with its second connection: for a bulk read in blocks of a file with at
/// least `threshold` bytes left, the second connection reads the block after the one the source
/// reads itself, both at once; the source's next read collects it, asks for the block after its
/// own next, and so on: the blocks alternate. A second connection that fails (its login refused,
/// a read failed, the child gone or silent) is stopped and the source reads the rest itself;
/// its own read reports any real fault. Nothing it read is served after a listing, a stat or the
/// file's close (`forget`).
struct SMBSecondReads {
    /// Whether this source may open a second connection at all.
    let allowed: Bool
    let threshold: Int64
    private(set) var connection: SMBSecondConnection?
    /// Set when it failed: the rest is read with one connection until the next connect.
    private(set) var failed = false
    private(set) var bytesRead: Int64 = 0
    private(set) var reads = 0
    /// Reads asked of it: more than `reads` when some were not used (a listing came between).
    private(set) var asks = 0

    /// What it has done so far (tests read it from outside the client).
    struct Summary: Sendable {
        /// The child's process id while it runs.
        var childProcessID: pid_t?
        var failed: Bool
        var bytesRead: Int64
        var reads: Int
        var asks: Int
    }

    var summary: Summary {
        Summary(childProcessID: connection?.processID, failed: failed, bytesRead: bytesRead, reads: reads, asks: asks)
    }

    init(allowed: Bool, threshold: Int64) {
        self.allowed = allowed
        self.threshold = threshold
    }

    /// The block of `path` at `offset` (`length` bytes) when the second connection was reading
    /// it: copied into `buffer`; with how many bytes were asked (more than came: the file ended).
    mutating func collect(_ path: String, offset: Int64, length: Int, into buffer: UnsafeMutableRawBufferPointer,
                          logger: Logger) -> (count: Int, asked: Int)? {
        guard let connection, connection.holds(path, offset: offset, length: length) else { return nil }
        do {
            let got = try connection.collect(into: buffer)
            bytesRead += Int64(got.count)
            reads += 1
            return got
        } catch {
            stop(failure: error, logger: logger)
            return nil
        }
    }

    /// Asks for the block of `path` at `offset`, when the file has enough left and the second
    /// connection works; starts it with `start` on first use.
    mutating func ask(_ path: String, url: String, at offset: Int64, block: (length: Int, left: Int64)?,
                      logger: Logger, start: () throws(SMBSecondConnectionFailure) -> SMBSecondConnection) {
        guard allowed, !failed, let block else { return }
        do {
            if connection == nil {
                guard block.left >= threshold else { return }
                connection = try start()
            }
            // Asked already (after it served the block before ours): let it read on.
            if connection!.holds(path, offset: offset, length: block.length) { return }
            try connection!.settle()
            try connection!.ask(path, url: url, offset: offset, length: block.length)
            asks += 1
        } catch {
            stop(failure: error, logger: logger)
        }
    }

    /// What it is reading of `path` (nil: of any file) is not to be served.
    func forget(_ path: String?) {
        connection?.forget(path)
    }

    /// Closes its handle on `path` before the file is moved or removed.
    mutating func closeFile(_ path: String, logger: Logger) {
        do { try connection?.closeFile(path) } catch { stop(failure: error, logger: logger) }
    }

    /// Ends the child (at the end of a run, or a disconnect with `resetFailure`).
    mutating func stop(resetFailure: Bool = false, logger: Logger) {
        if connection != nil {
            logger.debug("a second connection to the share ended", metadata: ["bytes": "\(bytesRead)", "reads": "\(reads)"])
        }
        connection = nil
        if resetFailure { failed = false }
    }

    private mutating func stop(failure: SMBSecondConnectionFailure, logger: Logger) {
        connection = nil
        failed = true
        logger.info("a second connection to the share stopped (\(failure)); reading on with one")
    }
}
