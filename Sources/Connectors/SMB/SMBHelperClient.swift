import ConnectorKit
import CoreConnectors
import Foundation
import Logging
import Synchronization

/// Whether SMB sources run libsmbclient in helper processes, and how to start one. The
/// executable sets it once at start (`sluice smb-helper` is the helper); without it (tests of
/// the library, other programs) SMB runs in-process on its one thread.
public enum SMBIsolation {
    private static let command = Mutex<[String]?>(nil)

    /// The helper's program and arguments, e.g. `["/usr/local/bin/sluice", "smb-helper"]`.
    public static var helperCommand: [String]? {
        get { command.withLock { $0 } }
        set { command.withLock { $0 = newValue } }
    }

    /// For a command that reaches one share and ends (`sluice cat`, `sluice once` of one
    /// pipeline): SMB runs in this process, on its SMB thread. Helpers keep hosts from waiting on
    /// each other, and with one share there is no other; the helper's second process, its pipe
    /// and the copies through it cost more than the pull itself (a 200 MiB pull took about twice
    /// the CPU through a helper, BENCHMARKS.md). A host that hangs still fails the command after
    /// the source's `timeout`, libsmbclient's own. The daemon always uses helpers: a reload may
    /// add shares at any time.
    public static func serveOneShareInProcess() {
        helperCommand = nil
    }
}

/// An SMB share reached through a helper process of its own: the same operations as `SMBClient`,
/// each a request on the helper's pipe answered within a deadline. A helper that does not answer
/// in time (a hung host) is killed and the call fails as a timeout (the pipeline retries with
/// backoff); the next call starts a new helper. Other pipelines, with helpers of their own,
/// never wait for it. Runs on a thread of its own: the blocking pipe I/O stalls nobody else.
public actor SMBHelperClient: RemoteFileClient {
    /// Kept for the client's life: the helper is told to die with the thread that started it
    /// (PR_SET_PDEATHSIG follows the thread), so this thread must not end while it runs.
    private let executor = ThreadExecutor(name: "sluice-smb-pipe", idleTimeout: nil)
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    let command: [String]
    let endpoint: SMBEndpoint
    let openRequest: SMBHelperProtocol.Request
    /// How long one request may take: a connect and an operation, each up to the source's timeout.
    let deadlineSeconds: Double
    let logger: Logger

    private var child: (process: SpawnedProcess, requests: Pipe, answers: Pipe)?
    /// Bytes read by helpers that ended, plus the current one's.
    private var earlierBytes: Int64 = 0
    private var currentBytes: Int64 = 0
    public var bytesRead: Int64 { earlierBytes + currentBytes }

    public nonisolated var displayName: String { endpoint.description }

    init(command: [String], endpoint: SMBEndpoint, protocols: String?, login: SMBLogin, guest: Bool, encryption: SMBEncryption,
         timeoutSeconds: Double, logger: Logger) {
        self.command = command
        self.endpoint = endpoint
        openRequest = SMBHelperProtocol.Request(op: .open, url: endpoint.description, protocols: protocols ?? "", user: login.user,
                                                domain: login.domain, password: login.password.value, guest: guest,
                                                encryption: encryption.rawValue, timeout: timeoutSeconds)
        deadlineSeconds = 2 * timeoutSeconds + 5
        self.logger = logger
    }

    isolated deinit {
        stopHelper(kill: false)
        executor.shutdown()
    }

    public func list(_ relative: String) throws(SMBError) -> [RemoteEntry] {
        let (r, _) = try call(SMBHelperProtocol.Request(op: .list, path: relative))
        return (r.entries ?? []).map { RemoteEntry(name: $0.name, kind: SMBHelperProtocol.kind($0.kind), size: $0.size, modified: $0.modified) }
    }

    public func stat(_ relative: String) throws(SMBError) -> RemoteEntry? {
        let (r, _) = try call(SMBHelperProtocol.Request(op: .stat, path: relative))
        return r.entry.map { RemoteEntry(name: $0.name, kind: SMBHelperProtocol.kind($0.kind), size: $0.size, modified: $0.modified) }
    }

    public func read(_ relative: String, offset: Int64, length: Int) throws(SMBError) -> [UInt8] {
        try call(SMBHelperProtocol.Request(op: .read, path: relative, offset: offset, length: length)).payload
    }

    public func finishReading(_ relative: String) {
        _ = try? call(SMBHelperProtocol.Request(op: .finishReading, path: relative))
    }

    public func remove(_ relative: String) throws(SMBError) {
        _ = try call(SMBHelperProtocol.Request(op: .remove, path: relative))
    }

    public func move(_ relative: String, intoDirectory directory: String) throws(SMBError) {
        _ = try call(SMBHelperProtocol.Request(op: .move, path: relative, directory: directory))
    }

    public func endRun() {
        _ = try? call(SMBHelperProtocol.Request(op: .endRun))
    }

    /// The helper ends at the end of its input, logging off the share, and is reaped (its CPU
    /// time is then counted with this process's, as `time` and the benchmarks see it).
    public func shutdown() {
        stopHelper(kill: false)
    }

    /// The helper's process id, while one runs (for tests and logs).
    public var helperProcessID: Int32? { child?.process.pid }

    // MARK: The pipe

    private func call(_ request: SMBHelperProtocol.Request) throws(SMBError) -> (SMBHelperProtocol.Response, payload: [UInt8]) {
        let c = try started()
        let deadline = Date().addingTimeInterval(deadlineSeconds)
        do {
            try SMBHelperProtocol.writeFrame(c.requests.fileHandleForWriting.fileDescriptor, request)
            let fd = c.answers.fileHandleForReading.fileDescriptor
            let response = try SMBHelperProtocol.readFrame(SMBHelperProtocol.Response.self, from: fd, deadline: deadline)
            let payload = response.payload > 0 ? try SMBHelperProtocol.readExactly(fd, response.payload, deadline: deadline) : []
            currentBytes = response.bytesRead
            if let e = response.error {
                throw SMBError(kind: SMBHelperProtocol.errorKind(e.kind), share: e.share.isEmpty ? endpoint.shareDescription : e.share,
                               path: e.path, code: e.code, message: e.message)
            }
            return (response, payload)
        } catch let error as SMBError {
            throw error
        } catch let error as SMBHelperProtocol.PipeError {
            stopHelper(kill: true)
            switch error {
            case .timedOut:
                throw SMBError(kind: .timeout, share: endpoint.shareDescription, path: request.path, code: ETIMEDOUT,
                               message: "no answer within \(Int(deadlineSeconds)) s (the host hangs); its SMB helper process was stopped")
            case .closed:
                throw SMBError(kind: .connectionLost, share: endpoint.shareDescription, path: request.path, code: EPIPE,
                               message: "the SMB helper process ended unexpectedly; a new one is started on the next attempt")
            case let .malformed(m), let .io(m):
                throw SMBError(kind: .connectionLost, share: endpoint.shareDescription, path: request.path, code: EIO, message: "SMB helper pipe: \(m)")
            }
        } catch {
            stopHelper(kill: true)
            throw SMBError(kind: .other, share: endpoint.shareDescription, path: request.path, code: 0, message: "\(error)")
        }
    }

    private func started() throws(SMBError) -> (process: SpawnedProcess, requests: Pipe, answers: Pipe) {
        if let child, child.process.isRunning { return child }
        stopHelper(kill: true)
        let requests = ProcessLaunch.pipe(), answers = ProcessLaunch.pipe()
        SMBHelperProtocol.enlarge(pipe: answers.fileHandleForWriting.fileDescriptor)
        let p: SpawnedProcess
        do {
            p = try SpawnedProcess.spawn(command[0], arguments: Array(command.dropFirst()), input: requests.fileHandleForReading.fileDescriptor,
                                         output: answers.fileHandleForWriting.fileDescriptor, error: STDERR_FILENO)
        } catch {
            for handle in [requests.fileHandleForReading, requests.fileHandleForWriting, answers.fileHandleForReading, answers.fileHandleForWriting] {
                try? handle.close()
            }
            throw SMBError(kind: .other, share: endpoint.shareDescription, path: "", code: 0, message: "cannot start the SMB helper: \(error)")
        }
        // The child's ends are the helper's alone: it sees its input end when the daemon closes
        // it or dies, and the daemon sees the answers end when the helper dies.
        try? requests.fileHandleForReading.close()
        try? answers.fileHandleForWriting.close()
        let c = (process: p, requests: requests, answers: answers)
        child = c
        logger.debug("SMB helper started", metadata: ["pid": "\(p.pid)"])
        do {
            try SMBHelperProtocol.writeFrame(requests.fileHandleForWriting.fileDescriptor, openRequest)
            let r = try SMBHelperProtocol.readFrame(SMBHelperProtocol.Response.self, from: answers.fileHandleForReading.fileDescriptor,
                                                    deadline: Date().addingTimeInterval(deadlineSeconds))
            if let e = r.error { throw SMBError(kind: SMBHelperProtocol.errorKind(e.kind), share: endpoint.shareDescription, path: "", code: e.code, message: e.message) }
        } catch let e as SMBError {
            stopHelper(kill: true)
            throw e
        } catch {
            stopHelper(kill: true)
            throw SMBError(kind: .connectionLost, share: endpoint.shareDescription, path: "", code: EIO, message: "the SMB helper did not start: \(error)")
        }
        return c
    }

    /// Ends the helper: closing its input ends it; `kill` does not wait for that (a stuck one).
    private func stopHelper(kill force: Bool) {
        guard let c = child else { return }
        child = nil
        earlierBytes += currentBytes
        currentBytes = 0
        try? c.requests.fileHandleForWriting.close()
        if force { c.process.signal(SIGKILL) }
        var ending = c.process.waitForEnd(seconds: 5)
        if ending == nil {
            c.process.signal(SIGKILL)
            ending = c.process.waitForEnd()
        }
        try? c.answers.fileHandleForReading.close()
        let reason = if case .signalled = ending { "signal" } else { "exit" }
        logger.debug("SMB helper ended", metadata: ["pid": "\(c.process.pid)", "status": "\(ending?.code ?? -1)", "reason": "\(reason)"])
    }
}
