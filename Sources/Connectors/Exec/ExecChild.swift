import ConnectorKit
import Foundation
import Glibc

/// A plugin program, started for one run: JSON lines to its standard input, JSON lines from its
/// standard output, its standard error kept as a tail for messages.
///
/// Every wait is bounded: a line that does not come within the timeout, or input the program does
/// not take, is a hung plugin, which is killed. The pipe I/O blocks, so the actor runs on a thread
/// of its own (`ThreadExecutor`), ended by `stop()`.
actor ExecChild {
    private let executor = ThreadExecutor(name: "sluice-exec", idleTimeout: nil)
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    let program: String
    private let process: SpawnedProcess
    private let writer: LineWriter
    private let output: FileHandle
    private let errorTail = StderrTail()
    private var buffer: [UInt8] = []
    /// Lines read from standard output so far (the position of a message in errors).
    private(set) var linesRead: Int64 = 0
    static let maxLineBytes = 64 << 20

    init(command: [String], environment: [String: String], directory: String?) throws(ExecError) {
        program = URL(fileURLWithPath: command[0]).lastPathComponent
        // Its input is a socket pair, not a pipe: writing to a program that died is then an
        // EPIPE error (MSG_NOSIGNAL), not a SIGPIPE that would end whatever process hosts Sluice.
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw ExecError(.startFailed, program: program, "socketpair: \(String(cString: strerror(errno)))", stderrTail: "")
        }
        _ = shutdown(ends[0], Int32(SHUT_RD))
        _ = shutdown(ends[1], Int32(SHUT_WR))
        let toChild = FileHandle(fileDescriptor: ends[0], closeOnDealloc: true)
        let childInput = FileHandle(fileDescriptor: ends[1], closeOnDealloc: true)
        let fromChild = ProcessLaunch.pipe(), errors = ProcessLaunch.pipe()
        do {
            process = try SpawnedProcess.spawn(Self.resolve(command[0]), arguments: Array(command.dropFirst()),
                                               environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
                                               directory: directory, input: ends[1], output: fromChild.fileHandleForWriting.fileDescriptor,
                                               error: errors.fileHandleForWriting.fileDescriptor)
        } catch {
            for handle in [toChild, childInput, fromChild.fileHandleForReading, fromChild.fileHandleForWriting,
                           errors.fileHandleForReading, errors.fileHandleForWriting] { try? handle.close() }
            throw ExecError(.startFailed, program: program, "\(error)", stderrTail: "")
        }
        // The child's ends are the child's alone now: its output ends when it ends.
        for handle in [childInput, fromChild.fileHandleForWriting, errors.fileHandleForWriting] { try? handle.close() }
        writer = LineWriter(toChild, program: program, process: process)
        output = fromChild.fileHandleForReading
        errorTail.collect(from: errors.fileHandleForReading)
    }

    /// A bare program name is looked up in PATH, as a shell would.
    static func resolve(_ name: String) -> String {
        if name.contains("/") { return name }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return name
    }

    var stderrTail: String { errorTail.text }
    nonisolated var processIdentifier: Int32 { process.pid }

    /// Writes one line (a newline is added). Not on the actor: an acknowledgement may be sent
    /// while the actor waits for the program's next line.
    nonisolated func send(_ line: [UInt8], timeout: Double) throws(ExecError) {
        try writer.send(line, timeout: timeout, stderrTail: errorTail)
    }

    /// The next line of standard output, without its newline; nil when `stop` is set first
    /// (the daemon is shutting down: it does not wait for a slow program).
    func receiveLine(timeout: Double, stop: StopToken? = nil) throws(ExecError) -> [UInt8]? {
        let deadline = Date().addingTimeInterval(timeout)
        let fd = output.fileDescriptor
        var searched = 0
        while true {
            if let end = buffer[searched...].firstIndex(of: 0x0A) {
                let line = Array(buffer[..<end])
                buffer.removeSubrange(...end)
                linesRead += 1
                return line
            }
            searched = buffer.count
            if buffer.count > Self.maxLineBytes {
                throw ExecError(.garbage, program: program, "line \(linesRead + 1) of its output is longer than \(Self.maxLineBytes >> 20) MiB", stderrTail: stderrTail)
            }
            if stop?.isStopped == true { return nil }
            try wait(fd, for: Int16(POLLIN), until: deadline, what: "sent nothing for \(Self.seconds(timeout))", stop: stop)
            if stop?.isStopped == true { return nil }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { throw failure(ended: buffer.isEmpty ? "ended" : "ended in the middle of a line") }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw failure(ended: "its output failed (\(String(cString: strerror(errno))))")
            }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    /// Ends the program: closes its input (its signal to finish), waits up to `grace` seconds,
    /// then kills it. Returns its exit status, nil when it had to be killed.
    @discardableResult
    func stop(grace: Double) -> Int32? {
        writer.close()
        var status: Int32? = nil
        if let ending = process.waitForEnd(seconds: grace) {
            status = ending.code
        } else {
            process.signal(SIGKILL)
            _ = process.waitForEnd()
        }
        try? output.close()
        errorTail.finish()
        executor.shutdown()
        return status
    }

    /// Kills the program at once (it hangs or talks nonsense).
    func kill() {
        process.signal(SIGKILL)
        _ = stop(grace: 0)
    }

    private func wait(_ fd: Int32, for events: Int16, until deadline: Date, what: String, stop: StopToken? = nil) throws(ExecError) {
        while stop?.isStopped != true {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 {
                kill() // first: its standard error is then read to the end
                throw ExecError(.hung, program: program, "\(what); it was killed", stderrTail: stderrTail)
            }
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let r = poll(&pfd, 1, Int32(min(left, 1) * 1000) + 1)
            if r > 0 { return }
            if r < 0 && errno != EINTR { throw ExecError(.crashed, program: program, "poll: \(String(cString: strerror(errno)))", stderrTail: stderrTail) }
        }
    }

    /// A line that must come (answers to Sluice's requests): nil is not an option here.
    func requireLine(timeout: Double) throws(ExecError) -> [UInt8] {
        try receiveLine(timeout: timeout)!
    }

    /// The program's output or input ended: how it ended, with its status once known.
    private func failure(ended what: String) -> ExecError {
        let ending = process.waitForEnd(seconds: 2)
        errorTail.finish(waiting: 1)
        let how = ending.map { "\(what): \($0)" } ?? "\(what) while still running"
        return ExecError(.crashed, program: program, how, stderrTail: errorTail.text)
    }

    static func seconds(_ s: Double) -> String { s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s) }
}

/// The program's standard input: whole lines, non-blocking with a deadline, one writer at a time.
final class LineWriter: Sendable {
    private let handle: Locked<FileHandle?>
    let program: String
    let process: SpawnedProcess

    init(_ handle: FileHandle, program: String, process: SpawnedProcess) {
        _ = fcntl(handle.fileDescriptor, F_SETFL, fcntl(handle.fileDescriptor, F_GETFL) | O_NONBLOCK)
        self.handle = Locked(handle)
        self.program = program
        self.process = process
    }

    func send(_ line: [UInt8], timeout: Double, stderrTail: StderrTail) throws(ExecError) {
        var bytes = line
        bytes.append(0x0A)
        let deadline = Date().addingTimeInterval(timeout)
        let outcome: ExecError? = handle.withLock { h in
            guard let fd = h?.fileDescriptor else {
                return ExecError(.crashed, program: program, "its input is closed", stderrTail: stderrTail.text)
            }
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n > 0 { sent += n; continue }
                if n < 0 && errno != EAGAIN && errno != EINTR {
                    return ExecError(.crashed, program: program, "stopped reading its input (\(String(cString: strerror(errno))))", stderrTail: stderrTail.text)
                }
                let left = deadline.timeIntervalSinceNow
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if left <= 0 || (poll(&pfd, 1, Int32(left * 1000) + 1) == 0 && deadline.timeIntervalSinceNow <= 0) {
                    process.signal(SIGKILL)
                    return ExecError(.hung, program: program, "did not take its input for \(ExecChild.seconds(timeout)); it was killed", stderrTail: stderrTail.text)
                }
            }
            return nil
        }
        if let outcome { throw outcome }
    }

    func close() {
        handle.withLock { h in
            try? h?.close()
            h = nil
        }
    }
}

/// The last 4 KiB a program wrote to standard error, read on a thread of its own so that the
/// program never blocks on a full pipe.
final class StderrTail: Sendable {
    private let tail = Locked<[UInt8]>([])
    private let done = Locked(true)
    static let size = 4096

    func collect(from handle: FileHandle) {
        done.withLock { $0 = false }
        let t = Thread { [tail, done] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                tail.withLock {
                    $0.append(contentsOf: data)
                    if $0.count > Self.size { $0.removeFirst($0.count - Self.size) }
                }
            }
            try? handle.close()
            done.withLock { $0 = true }
        }
        t.name = "sluice-exec-stderr"
        t.start()
    }

    /// Waits up to `waiting` seconds for the program's standard error to end (all of it read).
    func finish(waiting: Double = 2) {
        let deadline = Date().addingTimeInterval(waiting)
        while !done.withLock({ $0 }) && Date() < deadline { usleep(5_000) }
    }

    var text: String {
        let bytes = tail.withLock { $0 }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A plugin program that failed: how, with the tail of its standard error.
public struct ExecError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case startFailed
        /// It exited, or closed its output, before it was done.
        case crashed
        /// It sent nothing, or took no input, within the timeout.
        case hung
        /// It wrote something that is not a protocol message.
        case garbage
        /// It sent `{"type":"error"}`; `retry` as it said.
        case reported(retry: Bool)
    }

    public var kind: Kind
    public var program: String
    public var message: String
    public var stderrTail: String

    init(_ kind: Kind, program: String, _ message: String, stderrTail: String) {
        self.kind = kind
        self.program = program
        self.message = message
        self.stderrTail = stderrTail
    }

    public var description: String {
        let tail = stderrTail.isEmpty ? "" : "; its standard error ended with: " + stderrTail.split(separator: "\n").suffix(8).joined(separator: " | ")
        return "exec plugin \(program): \(message)\(tail)"
    }

    /// As the engine acts on it: a crash or a hang is retried with backoff (a new process), like a
    /// lost connection; nonsense and reported errors fail the run (the scheduler retries later).
    func connectorError(pipeline: String, role: String) -> ConnectorError {
        let code: ConnectorError.Code = switch kind {
        case .crashed, .hung, .reported(retry: true): .notConnected
        case .startFailed: .configuration
        case .garbage: .invalidData
        case .reported(retry: false): .other
        }
        return ConnectorError(code, description, pipeline: pipeline, plugin: "exec \(role)", underlying: self)
    }
}
