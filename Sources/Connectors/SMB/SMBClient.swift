#if canImport(Glibc)
import Glibc
#endif
import CSMBClient
import ConnectorKit
import CoreConnectors
import Foundation
import Logging

/// The thread every libsmbclient call in the process runs on.
///
/// libsmbclient has no thread support (Debian's 4.17 build exports no `smbc_thread_*` hook) and
/// some of its options, the allowed dialects among them, are process-global. So contexts are
/// confined to one thread: each `SMBClient` actor runs on this executor, and every call that may
/// connect sets its own dialect range first; nothing can run in between on that one thread.
enum SMBThread {
    static let executor = ThreadExecutor(name: "sluice-smb", idleTimeout: nil)
    static let libraryLogger = Logger(label: "libsmbclient")
}

/// Credentials handed to libsmbclient's auth callback through the context's user data.
final class SMBLogin: Sendable {
    let user: String
    let domain: String
    let password: Secret

    init(user: String, domain: String, password: Secret) {
        self.user = user
        self.domain = domain
        self.password = password
    }
}

/// Writes `text` NUL-terminated into a libsmbclient buffer of `capacity` bytes.
private func fill(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int32, with text: String) {
    guard let buffer, capacity > 0 else { return }
    let bytes = Array(text.utf8.prefix(Int(capacity) - 1))
    for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
    buffer[bytes.count] = 0
}

/// libsmbclient asks for credentials per server and share; the same login serves them all.
/// An empty user and password is a guest (anonymous) login: only when the pipeline says `guest`.
private let authCallback: smbc_get_auth_data_with_context_fn = { ctx, _, _, workgroup, workgroupLength, user, userLength, password, passwordLength in
    guard let ctx, let raw = smbc_getOptionUserData(ctx) else { return }
    let login = Unmanaged<SMBLogin>.fromOpaque(raw).takeUnretainedValue()
    if !login.domain.isEmpty { fill(workgroup, workgroupLength, with: login.domain) }
    fill(user, userLength, with: login.user)
    fill(password, passwordLength, with: login.password.value)
}

/// libsmbclient's own messages (printed on stderr even at debug level 0) go to the log at debug
/// level: the typed errors already say what matters.
private let libraryLog: smbc_debug_callback_fn = { _, level, message in
    guard let message else { return }
    let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    if !text.isEmpty { SMBThread.libraryLogger.debug("libsmbclient: \(text)", metadata: ["level": "\(level)"]) }
}

/// An SMB share folder as the tailer's file system.
public typealias SMBFileSystem = RemoteFileSystem<SMBClient>

/// One libsmbclient context: its connection to one share, and the only code that touches
/// libsmbclient's pointers. Runs on `SMBThread`.
public actor SMBClient: RemoteFileClient {
    public nonisolated var unownedExecutor: UnownedSerialExecutor { SMBThread.executor.asUnownedSerialExecutor() }

    let endpoint: SMBEndpoint
    let protocols: SMBProtocolRange
    let login: SMBLogin
    let guest: Bool
    let encryption: SMBEncryption
    let timeoutMilliseconds: Int32
    let logger: Logger

    private var context: UnsafeMutablePointer<SMBCCTX>?
    private var loginBox: Unmanaged<SMBLogin>?
    /// Set after the first operation that succeeded on this context: an access error before it
    /// is a refused login, after it a refused file.
    private var connected = false
    /// The file being read, kept open between the tailer's chunk reads.
    private var openFile: (path: String, handle: OpaquePointer)?
    /// Bytes read from files (payload over the wire).
    public private(set) var bytesRead: Int64 = 0
    /// Reads sent to the share (each a seek and `smbc_read`s until the buffer is full).
    private(set) var shareReads = 0
    /// Bulk reads in blocks (in-process only; see `SMBReadBlocks`).
    private var blocks: SMBReadBlocks
    /// A large file's every other block over a second connection (`second_connection`, SMB2 and
    /// newer, in blocks only: see `SMBSecondReads`).
    private var second: SMBSecondReads
    var secondConnectionSummary: SMBSecondReads.Summary { second.summary }

    public nonisolated var displayName: String { endpoint.description }
    /// A file needs this much left to read for a second connection: its login costs a few round
    /// trips, and a 1 MiB append then travels as it would with one.
    static let secondConnectionThreshold: Int64 = 8 << 20

    init(endpoint: SMBEndpoint, protocols: SMBProtocolRange, login: SMBLogin, guest: Bool, encryption: SMBEncryption,
         timeoutSeconds: Double, readBlockSize: Int = 0, secondConnection: Bool = false, logger: Logger) {
        self.encryption = encryption
        second = SMBSecondReads(allowed: secondConnection && readBlockSize > 0 && !protocols.allowsSMB1, threshold: Self.secondConnectionThreshold)
        blocks = SMBReadBlocks(blockSize: readBlockSize)
        self.endpoint = endpoint
        self.protocols = protocols
        self.login = login
        self.guest = guest
        timeoutMilliseconds = Int32(max(1, min(3_600_000, timeoutSeconds * 1000)))
        self.logger = logger
    }

    isolated deinit {
        disconnect()
    }

    // MARK: Operations

    public func list(_ relative: String) throws(SMBError) -> [RemoteEntry] {
        let ctx = try prepare()
        guard let dir = smbc_getFunctionOpendir(ctx)!(ctx, endpoint.url(relative)) else { throw failure(errno, relative, "cannot list folder") }
        defer { _ = smbc_getFunctionClosedir(ctx)!(ctx, dir) }
        var entries: [RemoteEntry] = []
        var st = posixStatBuffer()
        while true {
            // NULL is both the end of the listing and an error: errno tells them apart (reset
            // before each call, since the loop's own work may leave it set).
            errno = 0
            guard let info = smbc_getFunctionReaddirPlus2(ctx)!(ctx, dir, &st) else {
                let code = errno
                if code != 0 { throw failure(code, relative, "cannot list folder (failed after \(entries.count) entries)") }
                break
            }
            guard let cName = info.pointee.name else { continue }
            let name = String(cString: cName)
            if name == "." || name == ".." { continue }
            entries.append(RemoteEntry(name: name, kind: Self.kind(st.st_mode), size: Int64(info.pointee.size), modified: Self.seconds(info.pointee.mtime_ts)))
        }
        connected = true
        blocks.listed(relative, entries)
        second.forget(nil)
        return entries
    }

    public func stat(_ relative: String) throws(SMBError) -> RemoteEntry? {
        let ctx = try prepare()
        var st = posixStatBuffer()
        if smbc_getFunctionStat(ctx)!(ctx, endpoint.url(relative), &st) != 0 {
            let code = errno
            if code == ENOENT && connected {
                blocks.statted(relative, nil)
                second.forget(relative)
                return nil
            }
            throw failure(code, relative, "cannot stat")
        }
        connected = true
        let entry = RemoteEntry(name: String(relative.split(separator: "/").last ?? ""), kind: Self.kind(st.st_mode), size: Int64(st.st_size),
                                modified: Self.seconds(st.st_mtim))
        blocks.statted(relative, entry)
        second.forget(relative)
        return entry
    }

    private static func kind(_ mode: mode_t) -> FileEntry.Kind {
        switch mode & S_IFMT {
        case S_IFREG: .file
        case S_IFDIR: .directory
        case S_IFLNK: .symlink
        default: .other
        }
    }

    private static func seconds(_ t: timespec) -> Double { Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 }

    /// Up to `length` bytes from `offset`, fewer only at end of file. Seeks on the server: the
    /// bytes before `offset` never travel.
    public func read(_ relative: String, offset: Int64, length: Int) throws(SMBError) -> [UInt8] {
        if let held = blocks.served(relative, offset: offset, length: length) { return held }
        var failure: SMBError?
        if let block = blocks.blockLength(relative, offset: offset, length: length) {
            var buffer = blocks.takeBuffer(block)
            var requested = block
            let count = buffer.withUnsafeMutableBytes { raw -> Int in
                let target = UnsafeMutableRawBufferPointer(rebasing: raw[0..<block])
                if let (count, asked) = second.collect(relative, offset: offset, length: block, into: target, logger: logger) {
                    requested = asked
                    bytesRead += Int64(count)
                    shareReads += 1
                    askSecond(relative, at: offset + Int64(count) + Int64(blocks.blockAhead(relative, at: offset + Int64(count))?.length ?? 0))
                    return count
                }
                askSecond(relative, at: offset + Int64(block))
                do throws(SMBError) { return try readFromShare(relative, offset: offset, into: target) } catch {
                    failure = error
                    return 0
                }
            }
            blocks.hold(buffer, path: failure == nil ? relative : nil, offset: offset, count: count, requested: requested)
            if let failure { throw failure }
            return blocks.served(relative, offset: offset, length: length) ?? []
        }
        let out = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
            do throws(SMBError) { count = try readFromShare(relative, offset: offset, into: UnsafeMutableRawBufferPointer(buffer)) } catch {
                count = 0
                failure = error
            }
        }
        if let failure { throw failure }
        return out
    }

    /// Fills `buffer` with the file's bytes from `offset`, as far as the file goes; how many.
    private func readFromShare(_ relative: String, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(SMBError) -> Int {
        let ctx = try prepare()
        let handle = try open(relative, ctx)
        if smbc_getFunctionLseek(ctx)!(ctx, handle, off_t(offset), SEEK_SET) < 0 {
            let code = errno
            closeFile()
            throw failure(code, relative, "cannot seek to \(offset)")
        }
        var count = 0
        while count < buffer.count {
            let n = smbc_getFunctionRead(ctx)!(ctx, handle, buffer.baseAddress! + count, buffer.count - count)
            if n < 0 {
                let code = errno
                closeFile()
                throw failure(code, relative, "cannot read at \(offset + Int64(count))")
            }
            if n == 0 { break }
            count += n
        }
        bytesRead += Int64(count)
        shareReads += 1
        return count
    }

    /// Asks the second connection for the block of `relative` at `offset` (see `SMBSecondReads`).
    private func askSecond(_ relative: String, at offset: Int64) {
        guard second.allowed else { return }
        second.ask(relative, url: endpoint.url(relative), at: offset, block: blocks.blockAhead(relative, at: offset), logger: logger) { () throws(SMBSecondConnectionFailure) in
            // A connect and a read, each up to the source's timeout.
            let answerTimeout = 2 * Double(timeoutMilliseconds) / 1000 + 5
            return try withSettings { settings in
                Result { () throws(SMBSecondConnectionFailure) in
                    try SMBSecondConnection(settings: settings, login: login, blockSize: blocks.blockSize, answerTimeoutSeconds: answerTimeout)
                }
            }.get()
        }
    }

    /// Drops what is held of `relative` (nil: of every file): in blocks, and what the second
    /// connection is reading.
    private func forgetHeld(_ relative: String?) {
        blocks.forget(relative)
        second.forget(relative)
    }

    /// Before a file is closed, moved or removed: nothing held of it, and the second connection's
    /// handle on it closed (Samba refuses to rename a file another connection holds open).
    private func letGo(_ relative: String) {
        forgetHeld(relative)
        second.closeFile(relative, logger: logger)
    }

    public func finishReading(_ relative: String) {
        letGo(relative)
        if openFile?.path == relative { closeFile() }
    }

    /// The connection stays for the next run: reconnecting to an XP host every few minutes would
    /// log the SMB1 notice each time and count against XP's few inbound connections.
    public func endRun() {
        forgetHeld(nil)
        second.stop(logger: logger)
    }

    public func remove(_ relative: String) throws(SMBError) {
        letGo(relative)
        let ctx = try prepare()
        if openFile?.path == relative { closeFile() }
        guard smbc_getFunctionUnlink(ctx)!(ctx, endpoint.url(relative)) == 0 else { throw failure(errno, relative, "cannot delete") }
    }

    /// Renames `relative` into `directory` (relative to the source's folder), creating it if needed.
    public func move(_ relative: String, intoDirectory directory: String) throws(SMBError) {
        letGo(relative)
        let ctx = try prepare()
        if openFile?.path == relative { closeFile() }
        var made = ""
        for part in directory.split(separator: "/") {
            made += made.isEmpty ? String(part) : "/" + part
            if smbc_getFunctionMkdir(ctx)!(ctx, endpoint.url(made), 0o755) != 0 && errno != EEXIST {
                throw failure(errno, made, "cannot create folder")
            }
        }
        let name = String(relative.split(separator: "/").last ?? "")
        let target = directory.isEmpty ? name : directory + "/" + name
        guard smbc_getFunctionRename(ctx)!(ctx, endpoint.url(relative), ctx, endpoint.url(target)) == 0 else {
            throw failure(errno, relative, "cannot move to \(directory)")
        }
    }

    // MARK: Context

    /// The context, made on first use; before each call the process-global dialect range is set
    /// to this source's own (see `SMBThread`).
    private func prepare() throws(SMBError) -> UnsafeMutablePointer<SMBCCTX> {
        if let context {
            smbc_setOptionProtocols(context, protocols.min, protocols.max)
            return context
        }
        var loadError = [CChar](repeating: 0, count: 512)
        guard sluice_smbc_load(&loadError, loadError.count) == 0 else {
            let reason = loadError.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw SMBError(kind: .other, share: endpoint.shareDescription, path: "", code: ELIBACC, message: reason)
        }
        guard let ctx = smbc_new_context() else { throw failure(errno, "", "cannot create an SMB client context") }
        withSettings { settings in
            var settings = settings
            sluice_smbc_configure(ctx, &settings)
        }
        smbc_setLogCallback(ctx, nil, libraryLog)
        let box = Unmanaged.passRetained(login)
        smbc_setOptionUserData(ctx, box.toOpaque())
        smbc_setFunctionAuthDataWithContext(ctx, authCallback)
        guard smbc_init_context(ctx) != nil else {
            let code = errno
            smbc_free_context(ctx, 1)
            box.release()
            throw failure(code, "", "cannot initialise the SMB client")
        }
        context = ctx
        loginBox = box
        connected = false
        if protocols.allowsSMB1 {
            logger.notice("SMB1 (NT1) is allowed for this connection, as the pipeline asks (protocols = \(protocols)): SMB1 is insecure; use it for hosts like Windows XP only",
                          metadata: ["share": "\(endpoint.shareDescription)"])
        }
        return ctx
    }

    /// The options of every context of this source, its own and its second connection's.
    private func withSettings<R>(_ body: (sluice_smbc_settings) -> R) -> R {
        // Encryption "requested" (used when the server offers it) also makes libsmbclient require
        // and check signing, which a guest session cannot do: a server that maps a refused login
        // to guest (Samba's `map to guest = Bad User`) is then refused instead of silently serving
        // guest data. Not with SMB1 allowed (Windows XP servers do not sign), nor for guest.
        let level: smbc_smb_encrypt_level = switch encryption {
        case _ where guest || protocols.allowsSMB1: SMBC_ENCRYPTLEVEL_NONE
        case .auto: SMBC_ENCRYPTLEVEL_REQUEST
        case .required: SMBC_ENCRYPTLEVEL_REQUIRE
        case .off: SMBC_ENCRYPTLEVEL_NONE
        }
        return protocols.min.withCString { min in
            protocols.max.withCString { max in
                body(sluice_smbc_settings(timeout_ms: timeoutMilliseconds, guest: guest ? 1 : 0, encryption: level, min_protocol: min, max_protocol: max))
            }
        }
    }

    private func open(_ relative: String, _ ctx: UnsafeMutablePointer<SMBCCTX>) throws(SMBError) -> OpaquePointer {
        if let f = openFile, f.path == relative { return f.handle }
        closeFile()
        guard let handle = smbc_getFunctionOpen(ctx)!(ctx, endpoint.url(relative), O_RDONLY, 0) else {
            throw failure(errno, relative, "cannot open")
        }
        connected = true
        openFile = (relative, handle)
        return handle
    }

    private func closeFile() {
        guard let f = openFile, let context else { return }
        _ = smbc_getFunctionClose(context)!(context, f.handle)
        openFile = nil
    }

    /// Drops the context and its connections; the next call connects afresh.
    func disconnect() {
        forgetHeld(nil)
        second.stop(resetFailure: true, logger: logger)
        closeFile()
        if let context { smbc_free_context(context, 1) }
        context = nil
        loginBox?.release()
        loginBox = nil
        connected = false
    }

    /// Classifies `errno` from a failed call. A broken connection also drops the context, so the
    /// next attempt reconnects instead of reusing a dead socket.
    private func failure(_ code: Int32, _ relative: String, _ what: String) -> SMBError {
        let share = endpoint.shareDescription
        let user = guest ? "guest" : "user '\(login.user)'\(login.domain.isEmpty ? "" : " (domain \(login.domain))")"
        let place = relative.isEmpty ? "" : " " + relative
        let kind: SMBError.Kind
        let message: String
        // Before the first success an access or protocol error is about the login or the
        // dialects; after it, about one file or a broken connection.
        switch code {
        case EACCES, EPERM:
            if connected {
                kind = .permissionDenied
                message = "\(what): permission denied"
            } else {
                kind = .authenticationFailed
                message = "the server \(endpoint.host) refused \(user) for share \(endpoint.share): wrong user name or password, or the user may not use this share"
            }
        case ENOENT, ENOTDIR, ENODEV:
            if !connected && relative.isEmpty {
                kind = .shareNotFound
                message = "no share \(endpoint.share)\(endpoint.directory.isEmpty ? "" : ", or no folder '\(endpoint.directory)' in it,") on \(endpoint.host)"
            } else {
                kind = .notFound
                message = "\(what): no such file or folder"
            }
        case ECONNABORTED where !connected, EINVAL where !connected, EPROTONOSUPPORT:
            kind = .protocolRefused
            message = protocols.allowsSMB1
                ? "\(endpoint.host) accepted none of the SMB dialects \(protocols)"
                : "\(endpoint.host) refused every SMB dialect from \(protocols); an SMB1-only host (Windows XP) needs protocols = \"NT1\" in the pipeline"
        case ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EHOSTDOWN:
            kind = .hostUnreachable
            message = "cannot reach \(endpoint.host)\(endpoint.port.map { ":\($0)" } ?? ""): \(SMBError.errnoText(code))"
        case ETIMEDOUT:
            kind = .timeout
            message = "timed out: \(what)\(place)"
        case ECONNRESET, ECONNABORTED, EPIPE, ENOTCONN, EIO, EBADF:
            kind = .connectionLost
            message = "connection lost: \(what)\(place): \(SMBError.errnoText(code))"
        default:
            kind = .other
            message = "\(what)\(place): \(SMBError.errnoText(code))"
        }
        if kind == .connectionLost || kind == .timeout || kind == .hostUnreachable { disconnect() }
        return SMBError(kind: kind, share: share, path: relative, code: code, message: message)
    }
}
