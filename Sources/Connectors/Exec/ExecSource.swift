import ConnectorKit
import Foundation

/// `type = "exec"` as a source: runs the program for each run and loads the records it sends.
///
/// The program receives `start` with the cursor last committed (or null), answers `hello` with
/// its schema, then sends `record`s, each group closed by a `checkpoint` whose cursor covers it,
/// and `done` once caught up. Only records covered by a checkpoint are loaded; after each commit
/// the program receives `ack` with the cursor now durable, and the next run starts from it. So a
/// program that crashes, or a Sluice killed mid-run, loses and repeats nothing, provided the
/// program resumes from the cursor it is given.
public struct ExecSource: Source {
    let configuration: ExecConfiguration
    let directory: String
    /// The checkpoint key of this program's records.
    let stream: String
    /// The program of the run in progress, for acknowledgements.
    private let running = Locked<ExecChild?>(nil)
    /// Records held without a checkpoint before the program counts as broken.
    static let maxRecordsWithoutCheckpoint = 1_000_000

    public init(_ configuration: ExecConfiguration, directory: String) {
        self.configuration = configuration
        self.directory = directory
        // One source per pipeline: a fixed key, so that changing the command line (an option
        // added) keeps the cursor.
        stream = "exec"
    }

    public func run(from checkpoint: Checkpoint, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws {
        let child: ExecChild
        do {
            child = try ExecChild(command: configuration.command, environment: configuration.environment, directory: configuration.directory ?? directory)
        } catch { throw error.connectorError(pipeline: context.pipeline, role: "source") }
        running.withLock { $0 = child }
        defer { running.withLock { $0 = nil } }
        do {
            try await session(child, from: checkpoint.files[stream], context: context, emit: emit)
        } catch let error as ExecError {
            await child.kill()
            throw error.connectorError(pipeline: context.pipeline, role: "source")
        } catch {
            await child.kill()
            throw error
        }
    }

    private func session(_ child: ExecChild, from committed: FileCursor?, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws {
        let timeout = configuration.timeout.seconds
        try child.send(ExecProtocol.line(["type": "start", "protocol": ExecProtocol.version, "role": "source", "pipeline": context.pipeline,
                                          "cursor": committed?.decoderState ?? NSNull()]), timeout: timeout)
        var assembler = try await hello(child, timeout: timeout)
        var rejected: [DeadLetter] = []
        var count = committed?.offset ?? 0
        var done = false
        while !done && !context.stop.isStopped {
            guard let line = try await child.receiveLine(timeout: timeout, stop: context.stop) else { break }
            let position = await child.linesRead
            let message = try await decode(line, from: child)
            switch message.type {
            case "record":
                guard let data = message.data else { throw await garbage(child, "line \(position): a record without \"data\"") }
                if let reason = assembler.append(data, line: position, raw: line) {
                    rejected.append(DeadLetter(origin: RecordOrigin(file: stream, line: position, byteOffset: 0), stage: "exec", reason: reason, raw: line))
                }
                if assembler.count + rejected.count > Self.maxRecordsWithoutCheckpoint {
                    throw await garbage(child, "sent \(Self.maxRecordsWithoutCheckpoint) records without a checkpoint; send one at least every few thousand")
                }
            case "checkpoint":
                guard let cursor = message.cursor else { throw await garbage(child, "line \(position): a checkpoint without \"cursor\"") }
                count += Int64(assembler.count + rejected.count)
                var fileCursor = FileCursor()
                fileCursor.offset = count
                fileCursor.lines = count
                fileCursor.decoderState = cursor
                if assembler.count > 0 { try await emit(.records(assembler.take(stream: stream), file: stream, cursor: fileCursor)) }
                if !rejected.isEmpty || assembler.count == 0 {
                    // Also an empty checkpoint: the cursor moved (the program skipped input).
                    try await emit(.deadLetters(rejected, file: stream, cursor: fileCursor))
                    rejected = []
                }
            case "error":
                throw ExecError(.reported(retry: message.retry ?? false), program: child.program, "reported: \(message.message ?? "(no message)")",
                                stderrTail: await child.stderrTail)
            case "done":
                done = true
            default:
                throw await garbage(child, "line \(position): unexpected message type '\(message.type)' (a source sends record, checkpoint, error, done)")
            }
        }
        if assembler.count + rejected.count > 0 {
            context.logger.warning("exec source: \(assembler.count + rejected.count) record(s) after the last checkpoint are not loaded; the program sends them again from its cursor",
                                   metadata: ["program": "\(child.program)"])
        }
        // A stopped run (shutdown) may end before `done`: the program is told, then its input closes.
        if !done { try? child.send(ExecProtocol.line(["type": "shutdown"]), timeout: 1) }
        let status = await child.stop(grace: configuration.shutdownTimeout.seconds)
        if done, status != 0 {
            context.logger.warning("exec source: the program exited with status \(status.map(String.init) ?? "killed") after done",
                                   metadata: ["program": "\(child.program)"])
        }
    }

    private func hello(_ child: ExecChild, timeout: Double) async throws -> RecordAssembler {
        let line = try await child.requireLine(timeout: timeout)
        let message = try await decode(line, from: child)
        if message.type == "error" {
            throw ExecError(.reported(retry: message.retry ?? false), program: child.program, "reported: \(message.message ?? "(no message)")",
                            stderrTail: await child.stderrTail)
        }
        guard message.type == "hello", let specs = message.schema else {
            throw await garbage(child, "its first message must be {\"type\":\"hello\",\"schema\":[…]}, not '\(message.type)'")
        }
        if let v = message.protocolVersion, v != ExecProtocol.version {
            throw await garbage(child, "speaks protocol \(v); this Sluice speaks \(ExecProtocol.version)")
        }
        do { return RecordAssembler(schema: try ExecProtocol.schema(specs)) } catch {
            throw await garbage(child, "its hello: \(error.message)")
        }
    }

    private func decode(_ line: [UInt8], from child: ExecChild) async throws -> ExecProtocol.Message {
        do { return try ExecProtocol.decode(line) } catch {
            throw await garbage(child, "line \(await child.linesRead) of its output is not a protocol message: \(String(decoding: line.prefix(200), as: UTF8.self))")
        }
    }

    /// Kills the program first, so that its standard error is read to the end for the message.
    private func garbage(_ child: ExecChild, _ message: String) async -> ExecError {
        await child.kill()
        return ExecError(.garbage, program: child.program, message, stderrTail: await child.stderrTail)
    }

    /// Tells the program which cursor is now durable.
    public func committed(_ checkpoint: Checkpoint, context: RunContext) async {
        guard let cursor = checkpoint.files[stream]?.decoderState, let child = running.withLock({ $0 }) else { return }
        try? child.send(ExecProtocol.line(["type": "ack", "cursor": cursor]), timeout: configuration.timeout.seconds)
    }
}
