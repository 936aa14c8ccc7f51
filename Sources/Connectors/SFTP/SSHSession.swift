#if canImport(Glibc)
import Glibc
#endif
import CLibSSH2
import ConnectorKit
import CoreConnectors
import Foundation
import Logging

/// `libssh2_init` must run once before any session is made, whatever the thread.
private let libraryReady: Int32 = libssh2_init(0)

/// How the source logs in.
enum SSHCredential: Sendable {
    case key(path: String, passphrase: Secret?)
    case password(Secret)
}

/// `host_key`: verify against known_hosts (`strict`), or record the key of a host known_hosts
/// does not name at all (`accept-new`, as OpenSSH's StrictHostKeyChecking=accept-new).
public enum HostKeyPolicy: String, ConfigEnum, Sendable {
    case strict
    case acceptNew = "accept-new"
}

/// A folder on an SFTP server as the tailer's file system.
public typealias SFTPFileSystem = RemoteFileSystem<SSHSession>

/// One SSH connection with its SFTP channel, and the only code that touches libssh2's pointers.
///
/// libssh2 sessions may not be used by two threads at once, and its calls block: each session
/// runs on a thread of its own (`ThreadExecutor`), so a slow server never stalls other pipelines
/// or Swift's cooperative pool.
public actor SSHSession: RemoteFileClient {
    private let executor: ThreadExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    let endpoint: SFTPEndpoint
    let credential: SSHCredential
    let knownHostsPath: String
    let hostKeyPolicy: HostKeyPolicy
    let connectTimeoutMilliseconds: Int32
    let ioTimeoutMilliseconds: Int
    let keepaliveSeconds: Int
    let logger: Logger

    private var socket: Int32 = -1
    private var session: OpaquePointer?
    private var sftp: OpaquePointer?
    /// The file being read, kept open between chunks; `position` avoids a seek (which would drop
    /// libssh2's read-ahead) when the next chunk follows the last.
    private var openFile: (path: String, handle: OpaquePointer, position: Int64)?
    public private(set) var bytesRead: Int64 = 0

    public nonisolated var displayName: String { endpoint.description }

    init(endpoint: SFTPEndpoint, credential: SSHCredential, knownHostsPath: String, hostKeyPolicy: HostKeyPolicy,
         connectTimeout: Double, ioTimeout: Double, keepalive: Double, logger: Logger) {
        executor = ThreadExecutor(name: "sluice-ssh")
        self.endpoint = endpoint
        self.credential = credential
        self.knownHostsPath = knownHostsPath
        self.hostKeyPolicy = hostKeyPolicy
        connectTimeoutMilliseconds = Int32(max(1, min(600_000, connectTimeout * 1000)))
        ioTimeoutMilliseconds = Int(max(1, min(3_600_000, ioTimeout * 1000)))
        keepaliveSeconds = Int(max(0, keepalive))
        self.logger = logger
    }

    isolated deinit {
        disconnect()
    }

    // MARK: Operations

    public func list(_ relative: String) throws(SSHError) -> [RemoteEntry] {
        let sftp = try ready()
        let path = endpoint.path(relative)
        guard let dir = libssh2_sftp_open_ex(sftp, path, UInt32(path.utf8.count), 0, 0, LIBSSH2_SFTP_OPENDIR) else {
            throw failure(relative, "cannot list folder \(path)")
        }
        var entries: [RemoteEntry] = []
        var name = [CChar](repeating: 0, count: 4096)
        while true {
            var attrs = LIBSSH2_SFTP_ATTRIBUTES()
            let n = libssh2_sftp_readdir_ex(dir, &name, name.count, nil, 0, &attrs)
            if n == 0 { break }
            if n < 0 {
                // The folder handle belongs to the SFTP channel: close it while the channel lives,
                // never after a disconnect freed it. On a dead connection it is not closed at all
                // (the channel and the handle go with the session).
                let e = classify(relative, "cannot list folder \(path)", code: Int32(n))
                if e.kind == .connectionLost || e.kind == .timeout {
                    disconnect()
                } else {
                    libssh2_sftp_close_handle(dir)
                }
                throw e
            }
            let bytes = name.prefix(Int(n)).map { UInt8(bitPattern: $0) }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                logger.warning("skipped a remote name that is not UTF-8", metadata: ["folder": "\(path)"])
                continue
            }
            if text == "." || text == ".." { continue }
            var entry = Self.entry(text, attrs)
            if entry.kind == .symlink {
                // Follow a link to a regular file; a link to a folder is not walked, and a loop or
                // a dangling link stays a symlink (skipped by the tailer, which says so).
                var target = LIBSSH2_SFTP_ATTRIBUTES()
                let full = endpoint.path(relative.isEmpty ? text : relative + "/" + text)
                if libssh2_sftp_stat_ex(sftp, full, UInt32(full.utf8.count), LIBSSH2_SFTP_STAT, &target) == 0,
                   Self.entry(text, target).kind == .file {
                    entry = Self.entry(text, target)
                }
            }
            entries.append(entry)
        }
        libssh2_sftp_close_handle(dir)
        return entries
    }

    public func stat(_ relative: String) throws(SSHError) -> RemoteEntry? {
        let sftp = try ready()
        let path = endpoint.path(relative)
        var attrs = LIBSSH2_SFTP_ATTRIBUTES()
        let rc = libssh2_sftp_stat_ex(sftp, path, UInt32(path.utf8.count), LIBSSH2_SFTP_STAT, &attrs)
        if rc != 0 {
            let e = failure(relative, "cannot stat \(path)", code: rc)
            if e.kind == .notFound { return nil }
            throw e
        }
        return Self.entry(String(relative.split(separator: "/").last ?? ""), attrs)
    }

    /// Up to `length` bytes from `offset`, fewer only at end of file. The read seeks on the
    /// server: bytes before `offset` never travel.
    public func read(_ relative: String, offset: Int64, length: Int) throws(SSHError) -> [UInt8] {
        let sftp = try ready()
        let handle = try open(relative, sftp)
        if openFile?.position != offset { libssh2_sftp_seek64(handle, UInt64(offset)) }
        var failed: Int = 0
        let out = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
            var done = 0
            while done < length {
                let n = libssh2_sftp_read(handle, UnsafeMutableRawPointer(buffer.baseAddress! + done).assumingMemoryBound(to: CChar.self), length - done)
                if n < 0 { failed = n; break }
                if n == 0 { break }
                done += n
            }
            count = done
        }
        if failed < 0 {
            closeFile()
            throw failure(relative, "cannot read \(endpoint.path(relative)) at \(offset)", code: Int32(failed))
        }
        openFile?.position = offset + Int64(out.count)
        bytesRead += Int64(out.count)
        return out
    }

    public func finishReading(_ relative: String) {
        if openFile?.path == relative { closeFile() }
    }

    /// Each run connects afresh, as rsync over ssh does: nothing stays open between runs, and no
    /// connection is left for the process's exit to tear down under libssh2's feet.
    public func endRun() {
        disconnect()
    }

    public func remove(_ relative: String) throws(SSHError) {
        let sftp = try ready()
        if openFile?.path == relative { closeFile() }
        let path = endpoint.path(relative)
        let rc = libssh2_sftp_unlink_ex(sftp, path, UInt32(path.utf8.count))
        if rc != 0 { throw failure(relative, "cannot delete \(path)", code: rc) }
    }

    public func move(_ relative: String, intoDirectory directory: String) throws(SSHError) {
        let sftp = try ready()
        if openFile?.path == relative { closeFile() }
        var made = ""
        for part in directory.split(separator: "/") {
            made += made.isEmpty ? String(part) : "/" + part
            let path = endpoint.path(made)
            if libssh2_sftp_mkdir_ex(sftp, path, UInt32(path.utf8.count), 0o755) != 0, try stat(made)?.kind != .directory {
                throw failure(made, "cannot create folder \(path)")
            }
        }
        let name = String(relative.split(separator: "/").last ?? "")
        let from = endpoint.path(relative), to = endpoint.path(directory.isEmpty ? name : directory + "/" + name)
        let rc = libssh2_sftp_rename_ex(sftp, from, UInt32(from.utf8.count), to, UInt32(to.utf8.count),
                                        Int(LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE))
        if rc != 0 { throw failure(relative, "cannot move \(from) to \(to)", code: rc) }
    }

    // MARK: Connection

    /// The SFTP channel, connecting first if needed; on an idle connection, a keepalive is sent
    /// when due (and a dead connection found before a real request is made).
    private func ready() throws(SSHError) -> OpaquePointer {
        if let sftp, let session {
            var next: Int32 = 0
            if keepaliveSeconds > 0 && libssh2_keepalive_send(session, &next) != 0 {
                let e = failure("", "keepalive", code: libssh2_session_last_errno(session))
                if e.kind == .connectionLost || e.kind == .timeout { throw e }
            }
            return sftp
        }
        _ = libraryReady
        let known = KnownHostsFile(path: knownHostsPath, hostName: endpoint.knownHostsName, host: endpoint.host)
        let attempts = known.attempts
        for (index, preference) in attempts.enumerated() {
            let last = index == attempts.count - 1
            let fd = try openSocket()
            guard let s = sluice_ssh_session_init() else {
                close(fd)
                throw SSHError(kind: .other, path: "", message: "cannot create an SSH session")
            }
            libssh2_session_set_blocking(s, 1)
            libssh2_session_set_timeout(s, ioTimeoutMilliseconds)
            _ = libssh2_session_method_pref(s, LIBSSH2_METHOD_HOSTKEY, preference)
            let rc = libssh2_session_handshake(s, fd)
            if rc != 0 {
                let detail = lastError(s)
                drop(s, fd)
                if rc == LIBSSH2_ERROR_KEX_FAILURE {
                    if !last { continue } // the server has no key of this type; try the next
                    throw SSHError(kind: .hostKeyUnsupported, path: "", message: """
                        \(endpoint.knownHostsName): no host key algorithm in common (\(detail)). libssh2 1.10 (Debian 12) verifies \
                        ssh-ed25519, ecdsa-sha2-nistp256/384/521 and SHA-1 ssh-rsa keys only; a server with only an RSA host key \
                        (OpenSSH ≥ 8.8 offers it as rsa-sha2 only) cannot be verified. Give the server an ed25519 host key \
                        (ssh-keygen -t ed25519 -f /etc/ssh/ssh_host_ed25519_key, then HostKey in sshd_config)
                        """)
                }
                throw connectionFailure(rc, detail, "SSH handshake with \(endpoint.knownHostsName) failed")
            }
            let verdict: Verdict
            do { verdict = try verifyHostKey(s, known: known, last: last) } catch {
                // A refused or unreadable host key ends this attempt: free its session and socket.
                drop(s, fd)
                throw error
            }
            switch verdict {
            case .trusted:
                session = s
                socket = fd
            case .tryNextType:
                drop(s, fd)
                continue
            }
            break
        }
        guard let session else { throw SSHError(kind: .hostKeyUnknown, path: "", message: "\(endpoint.knownHostsName): no host key could be verified") }
        try authenticate(session)
        guard let channel = libssh2_sftp_init(session) else {
            let e = failure("", "cannot start SFTP on \(endpoint.knownHostsName) (is the sftp subsystem enabled?)", code: libssh2_session_last_errno(session))
            disconnect()
            throw e
        }
        sftp = channel
        if keepaliveSeconds > 0 { libssh2_keepalive_config(session, 1, UInt32(keepaliveSeconds)) }
        return channel
    }

    private enum Verdict { case trusted, tryNextType }

    /// Checks the server's key against known_hosts: a match is trusted; a different key is refused
    /// loudly; an unknown one is refused with its fingerprint and the line to add, or recorded
    /// under `accept-new` when known_hosts does not name the host at all.
    private func verifyHostKey(_ s: OpaquePointer, known: KnownHostsFile, last: Bool) throws(SSHError) -> Verdict {
        var length = 0
        var type: Int32 = 0
        guard let raw = libssh2_session_hostkey(s, &length, &type) else {
            throw SSHError(kind: .other, path: "", message: "\(endpoint.knownHostsName): the server sent no host key")
        }
        let blob = raw.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
        let typeName = Self.hostKeyTypeName(type)
        var hash: [UInt8] = []
        if let h = libssh2_hostkey_hash(s, LIBSSH2_HOSTKEY_HASH_SHA256) {
            hash = h.withMemoryRebound(to: UInt8.self, capacity: 32) { Array(UnsafeBufferPointer(start: $0, count: 32)) }
        }
        let fingerprint = KnownHostsFile.fingerprint(sha256: hash)
        let line = KnownHostsFile.line(hostName: endpoint.knownHostsName, type: typeName, blob: blob)

        var result = LIBSSH2_KNOWNHOST_CHECK_NOTFOUND
        if known.exists {
            guard let hosts = libssh2_knownhost_init(s) else { throw SSHError(kind: .other, path: "", message: "cannot read known_hosts") }
            defer { libssh2_knownhost_free(hosts) }
            if libssh2_knownhost_readfile(hosts, knownHostsPath, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0 {
                throw SSHError(kind: .other, path: "", message: "cannot read known_hosts file \(knownHostsPath): \(lastError(s))")
            }
            var entry: UnsafeMutablePointer<libssh2_knownhost>?
            result = libssh2_knownhost_checkp(hosts, endpoint.host, Int32(endpoint.port), raw, length,
                                              sluice_knownhost_plain_raw() | sluice_knownhost_key_bits(type), &entry)
        }
        switch result {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH:
            logger.debug("host key verified", metadata: ["host": "\(endpoint.knownHostsName)", "key": "\(typeName) \(fingerprint)"])
            return .trusted
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            throw SSHError(kind: .hostKeyChanged, path: "", message: """
                HOST KEY CHANGED for \(endpoint.knownHostsName): the server presents the \(typeName) key \(fingerprint), which differs \
                from the one recorded in \(knownHostsPath). Someone may be intercepting the connection, or the server was \
                reinstalled. Refused. If the change is expected, replace the host's \(typeName) line in \(knownHostsPath) with: \(line)
                """)
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
            if !last { return .tryNextType }
            if hostKeyPolicy == .acceptNew && known.typesForHost.isEmpty {
                do { try known.append(line) } catch {
                    throw SSHError(kind: .other, path: "", message: "cannot record the host key in \(knownHostsPath): \(error)")
                }
                logger.notice("recorded the host key of a new host (host_key = \"accept-new\")",
                              metadata: ["host": "\(endpoint.knownHostsName)", "key": "\(typeName) \(fingerprint)", "known_hosts": "\(knownHostsPath)"])
                return .trusted
            }
            throw SSHError(kind: .hostKeyUnknown, path: "", message: """
                unknown host key for \(endpoint.knownHostsName): \(typeName) \(fingerprint) is not in \(knownHostsPath). Check the \
                fingerprint with the server's administrator (ssh-keygen -lf /etc/ssh/ssh_host_\(typeName == "ssh-ed25519" ? "ed25519" : typeName.hasPrefix("ecdsa") ? "ecdsa" : "rsa")_key.pub \
                on the server), then add this line to \(knownHostsPath): \(line)   (or set host_key = "accept-new" to record a new host's key on first contact)
                """)
        default:
            throw SSHError(kind: .other, path: "", message: "cannot check the host key of \(endpoint.knownHostsName) against \(knownHostsPath)")
        }
    }

    private func authenticate(_ s: OpaquePointer) throws(SSHError) {
        let user = endpoint.user
        switch credential {
        case let .key(path, passphrase):
            let rc = libssh2_userauth_publickey_fromfile_ex(s, user, UInt32(user.utf8.count), nil, path, passphrase?.value)
            if rc == 0 { return }
            let detail = lastError(s)
            disconnect(s)
            if rc == LIBSSH2_ERROR_FILE {
                throw SSHError(kind: .keyFile, path: "", message: "cannot use the private key \(path): \(detail) (unreadable, not a private key, or a wrong passphrase)")
            }
            if KnownHostsFile.isRSAKey(path: path) {
                throw SSHError(kind: .authenticationFailed, path: "", message: """
                    \(endpoint.knownHostsName) refused the RSA key \(path) for user \(user): libssh2 1.10 (Debian 12) signs RSA keys \
                    with SHA-1 (ssh-rsa) only, which OpenSSH ≥ 8.8 refuses by default. Use an ed25519 key: ssh-keygen -t ed25519, \
                    and add its .pub to the user's authorized_keys on the server
                    """)
            }
            throw SSHError(kind: .authenticationFailed, path: "", message: "\(endpoint.knownHostsName) refused the key \(path) for user \(user) (is its .pub in the user's authorized_keys?)")
        case let .password(secret):
            let rc = libssh2_userauth_password_ex(s, user, UInt32(user.utf8.count), secret.value, UInt32(secret.value.utf8.count), nil)
            if rc == 0 { return }
            disconnect(s)
            throw SSHError(kind: .authenticationFailed, path: "", message: "\(endpoint.knownHostsName) refused the password for user \(user) (or does not allow password logins)")
        }
    }

    /// A connected TCP socket, within the connect timeout.
    private func openSocket() throws(SSHError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard rc == 0, let list else {
            throw SSHError(kind: .hostUnreachable, path: "", message: "cannot resolve \(endpoint.host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var code: Int32 = 0
        var next: UnsafeMutablePointer<addrinfo>? = list
        while let ai = next {
            next = ai.pointee.ai_next
            let fd = Glibc.socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
            if fd < 0 { code = errno; continue }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var ok = Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0
            if !ok && errno == EINPROGRESS {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let n = poll(&p, 1, connectTimeoutMilliseconds)
                if n == 1 {
                    var soError: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
                    if soError == 0 { ok = true } else { errno = soError }
                } else if n == 0 {
                    errno = ETIMEDOUT
                }
            }
            if ok {
                _ = fcntl(fd, F_SETFL, flags)
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            code = errno
            close(fd)
        }
        let place = "\(endpoint.host):\(endpoint.port)"
        if code == ETIMEDOUT { throw SSHError(kind: .timeout, path: "", message: "cannot reach \(place): no answer within \(connectTimeoutMilliseconds / 1000) s") }
        throw SSHError(kind: .hostUnreachable, path: "", message: "cannot reach \(place): \(String(cString: strerror(code)))")
    }

    private func open(_ relative: String, _ sftp: OpaquePointer) throws(SSHError) -> OpaquePointer {
        if let f = openFile, f.path == relative { return f.handle }
        closeFile()
        let path = endpoint.path(relative)
        guard let handle = libssh2_sftp_open_ex(sftp, path, UInt32(path.utf8.count), UInt(LIBSSH2_FXF_READ), 0, LIBSSH2_SFTP_OPENFILE) else {
            throw failure(relative, "cannot open \(path)")
        }
        openFile = (relative, handle, 0)
        return handle
    }

    private func closeFile() {
        if let f = openFile { libssh2_sftp_close_handle(f.handle) }
        openFile = nil
    }

    /// Drops the connection and ends its thread; the next call connects afresh (on a new one).
    func disconnect() {
        closeFile()
        if let sftp { libssh2_sftp_shutdown(sftp) }
        sftp = nil
        if let session { disconnect(session) }
        session = nil
        executor.shutdown()
    }

    private func disconnect(_ s: OpaquePointer) {
        libssh2_session_disconnect_ex(s, SSH_DISCONNECT_BY_APPLICATION, "sluice done", "")
        drop(s, socket)
        socket = -1
        if s == session { session = nil; sftp = nil }
    }

    private func drop(_ s: OpaquePointer, _ fd: Int32) {
        libssh2_session_free(s)
        if fd >= 0 { close(fd) }
    }

    private func lastError(_ s: OpaquePointer) -> String {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        _ = libssh2_session_last_error(s, &message, &length, 0)
        return message.map { String(cString: $0) } ?? "unknown error"
    }

    /// Classifies a failed call from libssh2's error code (and the SFTP status when the server
    /// answered). A broken connection also drops the session, so the next call reconnects.
    /// The error of the last failed call, as an `SSHError`; drops the connection when it is lost.
    private func failure(_ relative: String, _ what: String, code: Int32? = nil) -> SSHError {
        let e = classify(relative, what, code: code)
        if e.kind == .connectionLost || e.kind == .timeout { disconnect() }
        return e
    }

    /// The error of the last failed call, without side effects: read right after the call.
    private func classify(_ relative: String, _ what: String, code: Int32? = nil) -> SSHError {
        guard let session else { return SSHError(kind: .connectionLost, path: relative, message: "\(what): not connected") }
        let rc = code ?? libssh2_session_last_errno(session)
        if rc == LIBSSH2_ERROR_SFTP_PROTOCOL, let sftp {
            let status = libssh2_sftp_last_error(sftp)
            switch status {
            case UInt(LIBSSH2_FX_NO_SUCH_FILE), UInt(LIBSSH2_FX_NO_SUCH_PATH):
                return SSHError(kind: .notFound, path: relative, message: "\(what): no such file or folder")
            case UInt(LIBSSH2_FX_PERMISSION_DENIED):
                return SSHError(kind: .permissionDenied, path: relative, message: "\(what): permission denied")
            case UInt(LIBSSH2_FX_LINK_LOOP):
                return SSHError(kind: .other, path: relative, message: "\(what): symbolic link loop")
            case UInt(LIBSSH2_FX_NO_CONNECTION), UInt(LIBSSH2_FX_CONNECTION_LOST):
                return SSHError(kind: .connectionLost, path: relative, message: "\(what): connection lost")
            default:
                return SSHError(kind: .other, path: relative, message: "\(what): SFTP status \(status)")
            }
        }
        let e = connectionFailure(rc, lastError(session), what)
        return SSHError(kind: e.kind, path: relative, message: e.message)
    }

    private func connectionFailure(_ rc: Int32, _ detail: String, _ what: String) -> SSHError {
        switch rc {
        case LIBSSH2_ERROR_TIMEOUT, LIBSSH2_ERROR_SOCKET_TIMEOUT:
            return SSHError(kind: .timeout, path: "", message: "\(what): timed out (\(detail))")
        case LIBSSH2_ERROR_SOCKET_SEND, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_BAD_SOCKET,
             LIBSSH2_ERROR_BANNER_RECV, LIBSSH2_ERROR_BANNER_SEND, LIBSSH2_ERROR_CHANNEL_CLOSED, LIBSSH2_ERROR_CHANNEL_EOF_SENT:
            return SSHError(kind: .connectionLost, path: "", message: "\(what): connection lost (\(detail))")
        default:
            return SSHError(kind: .other, path: "", message: "\(what): \(detail) (libssh2 error \(rc))")
        }
    }

    private static func entry(_ name: String, _ a: LIBSSH2_SFTP_ATTRIBUTES) -> RemoteEntry {
        var kind = FileEntry.Kind.other
        if a.flags & UInt(LIBSSH2_SFTP_ATTR_PERMISSIONS) != 0 {
            switch a.permissions & UInt(LIBSSH2_SFTP_S_IFMT) {
            case UInt(LIBSSH2_SFTP_S_IFREG): kind = .file
            case UInt(LIBSSH2_SFTP_S_IFDIR): kind = .directory
            case UInt(LIBSSH2_SFTP_S_IFLNK): kind = .symlink
            default: kind = .other
            }
        }
        return RemoteEntry(name: name, kind: kind, size: Int64(a.filesize), modified: Double(a.mtime))
    }

    private static func hostKeyTypeName(_ type: Int32) -> String {
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_ED25519: "ssh-ed25519"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: "ecdsa-sha2-nistp256"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: "ecdsa-sha2-nistp384"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: "ecdsa-sha2-nistp521"
        case LIBSSH2_HOSTKEY_TYPE_RSA: "ssh-rsa"
        case LIBSSH2_HOSTKEY_TYPE_DSS: "ssh-dss"
        default: "unknown"
        }
    }
}
