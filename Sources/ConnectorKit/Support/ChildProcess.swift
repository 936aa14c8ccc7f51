import Foundation

/// Runs a program to completion without blocking the caller's thread: output is read on threads
/// of its own, a time limit ends it (SIGTERM, then SIGKILL), and a cancelled task ends it too.
/// For the tools a job drives (pg_dump, pg_restore) and alert commands.
public enum ChildProcess {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: [UInt8]
        public var stderr: String
        public var timedOut: Bool
    }

    /// - Parameters:
    ///   - environment: added to (and overriding) this process's environment.
    ///   - keepOutput: whether to keep standard output (else it is discarded).
    public static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:], input: [UInt8]? = nil,
                           keepOutput: Bool = true, timeout: Double) async throws -> Result {
        let out = ProcessLaunch.pipe(), err = ProcessLaunch.pipe(), inPipe = ProcessLaunch.pipe()
        let child: SpawnedProcess
        do {
            child = try SpawnedProcess.spawn(path, arguments: arguments,
                                             environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { $1 },
                                             input: input == nil ? nil : inPipe.fileHandleForReading.fileDescriptor,
                                             output: keepOutput ? out.fileHandleForWriting.fileDescriptor : nil,
                                             error: err.fileHandleForWriting.fileDescriptor)
        } catch {
            for handle in [out.fileHandleForReading, out.fileHandleForWriting, err.fileHandleForReading, err.fileHandleForWriting,
                           inPipe.fileHandleForReading, inPipe.fileHandleForWriting] { try? handle.close() }
            throw error
        }
        // The child's ends are the child's alone now: its output ends when it ends.
        for handle in [out.fileHandleForWriting, err.fileHandleForWriting, inPipe.fileHandleForReading] { try? handle.close() }
        if !keepOutput { try? out.fileHandleForReading.close() }
        let collected = Collected()
        collected.read(keepOutput ? out : nil, err)
        if let input {
            // A program that does not read its input may be gone already (EPIPE, not a signal:
            // the daemon ignores SIGPIPE).
            try? inPipe.fileHandleForWriting.write(contentsOf: input)
        }
        try? inPipe.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        var ending: SpawnedProcess.Ending
        while true {
            if let e = await child.ended(within: 0.05) { ending = e; break }
            if Date() >= deadline || Task.isCancelled {
                timedOut = Date() >= deadline
                child.signal(SIGTERM)
                if let e = await child.ended(within: 5) { ending = e; break }
                child.signal(SIGKILL)
                ending = child.waitForEnd()
                break
            }
        }
        let (stdout, stderr) = await collected.finish()
        return Result(status: ending.code, stdout: stdout, stderr: String(decoding: stderr.suffix(8192), as: UTF8.self), timedOut: timedOut)
    }

    /// Standard output and error, read to their end on threads of their own.
    private final class Collected: Sendable {
        private let out = Locked<[UInt8]>([])
        private let err = Locked<[UInt8]>([])
        private let pending = Locked<Int>(0)

        func read(_ stdout: Pipe?, _ stderr: Pipe) {
            for (pipe, box) in [(stdout, out), (stderr as Pipe?, err)] {
                guard let pipe else { continue }
                pending.withLock { $0 += 1 }
                Thread.detachNewThread { [pending] in
                    let data = pipe.fileHandleForReading.readDataToEndOfFile()
                    box.withLock { $0 = Array(data) }
                    pending.withLock { $0 -= 1 }
                }
            }
        }

        func finish() async -> ([UInt8], [UInt8]) {
            while pending.withLock({ $0 }) > 0 { try? await Task.sleep(for: .milliseconds(5)) }
            return (out.withLock { $0 }, err.withLock { $0 })
        }
    }
}
