import ConnectorKit
import Foundation

/// `type = "exec"` as a sink: runs the program for each run and hands it the records.
///
/// The program keeps the checkpoint with its data (custody `.sink`): it answers `start` with
/// `hello` carrying the checkpoint it committed last, receives `schema` and `record`s, answers
/// `flush` with the records its target refused, and `commit` — which carries the checkpoint text
/// to store in the same transaction as the records — with `committed`. A crash anywhere is undone
/// by the next `open`: the program's checkpoint says what it holds.
public actor ExecSink: Sink {
    let configuration: ExecConfiguration
    let directory: String
    let pipelineName: String
    private var child: ExecChild?
    private var sentSchema: Schema?
    /// Origins of the records sent since the last commit, for the refusals `flushed` reports.
    private var pending: [(origins: RecordOrigins, count: Int)] = []
    private var failed = false

    public init(_ configuration: ExecConfiguration, directory: String, pipeline: String) {
        self.configuration = configuration
        self.directory = directory
        pipelineName = pipeline
    }

    public nonisolated var checkpointCustody: CheckpointCustody { .sink }

    /// The running program's process id (tests cut it off to check recovery).
    var pluginProcessIdentifier: Int32? { child?.processIdentifier }

    public func open(context: SinkContext) async throws -> Checkpoint {
        await end(grace: 0)
        failed = false
        sentSchema = nil
        pending = []
        let c: ExecChild
        do {
            c = try ExecChild(command: configuration.command, environment: configuration.environment, directory: configuration.directory ?? directory)
        } catch { throw error.connectorError(pipeline: context.pipeline, role: "sink") }
        child = c
        return try await guarded {
            try c.send(ExecProtocol.line(["type": "start", "protocol": ExecProtocol.version, "role": "sink", "pipeline": context.pipeline]),
                       timeout: configuration.timeout.seconds)
            let hello = try await receive(c, expecting: "hello")
            if let v = hello.protocolVersion, v != ExecProtocol.version {
                throw ExecError(.garbage, program: c.program, "speaks protocol \(v); this Sluice speaks \(ExecProtocol.version)", stderrTail: await c.stderrTail)
            }
            guard let text = hello.checkpoint else { return Checkpoint() }
            do { return try JSONDecoder().decode(Checkpoint.self, from: Data(text.utf8)) } catch {
                throw ExecError(.garbage, program: c.program, "its hello carries a checkpoint that is not one Sluice gave it", stderrTail: await c.stderrTail)
            }
        }
    }

    public func write(_ batch: RecordBatch) async throws -> [DeadLetter] {
        let c = try usable()
        try await guarded {
            if sentSchema != batch.schema {
                try c.send(ExecProtocol.line(["type": "schema", "fields": ExecProtocol.specs(batch.schema)]), timeout: configuration.timeout.seconds)
                sentSchema = batch.schema
            }
            // One write for the batch: `{"type":"record","data":{…}}` per row.
            var rows: [UInt8] = []
            JSONLines.append(batch, to: &rows)
            var out: [UInt8] = []
            out.reserveCapacity(rows.count + batch.count * 32)
            let prefix = Array(#"{"type":"record","data":"#.utf8)
            var start = 0
            for (i, b) in rows.enumerated() where b == 0x0A {
                out.append(contentsOf: prefix)
                out.append(contentsOf: rows[start..<i])
                out.append(contentsOf: [UInt8(ascii: "}"), 0x0A])
                start = i + 1
            }
            if !out.isEmpty {
                out.removeLast() // send adds the last newline
                try c.send(out, timeout: configuration.timeout.seconds)
            }
            pending.append((batch.origins, batch.count))
        }
        return []
    }

    public func flush() async throws -> [DeadLetter] {
        let c = try usable()
        return try await guarded {
            try c.send(ExecProtocol.line(["type": "flush"]), timeout: configuration.timeout.seconds)
            let answer = try await receive(c, expecting: "flushed")
            var letters: [DeadLetter] = []
            let total = pending.reduce(0) { $0 + $1.count }
            for r in answer.rejected ?? [] {
                guard (0..<total).contains(r.index) else {
                    throw ExecError(.garbage, program: c.program, "refused record \(r.index), but only \(total) were sent since the last commit", stderrTail: await c.stderrTail)
                }
                var index = r.index
                for p in pending {
                    if index < p.count {
                        letters.append(DeadLetter(origin: p.origins.origin(index), stage: "exec", reason: r.reason,
                                                  raw: p.origins.rawBytes(index), rawEncoding: p.origins.rawEncoding))
                        break
                    }
                    index -= p.count
                }
            }
            return letters
        }
    }

    public func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint {
        let c = try usable()
        return try await guarded {
            let text = String(decoding: try JSONEncoder().encode(checkpoint), as: UTF8.self)
            try c.send(ExecProtocol.line(["type": "commit", "checkpoint": text]), timeout: configuration.timeout.seconds)
            _ = try await receive(c, expecting: "committed")
            pending = []
            return checkpoint
        }
    }

    public func close() async throws {
        await end(grace: configuration.shutdownTimeout.seconds)
    }

    private func end(grace: Double) async {
        guard let c = child else { return }
        child = nil
        if grace > 0 { try? c.send(ExecProtocol.line(["type": "shutdown"]), timeout: 1) }
        await c.stop(grace: grace)
    }

    private func usable() throws -> ExecChild {
        guard let c = child, !failed else {
            throw ConnectorError(.sinkFailed, "the exec sink failed earlier in this attempt; it must be opened again", pipeline: pipelineName, plugin: "exec sink")
        }
        return c
    }

    /// Runs a step; any failure kills the program and leaves the sink failed until `open`.
    private func guarded<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch {
            failed = true
            if let c = child { await c.kill() }
            child = nil
            if let e = error as? ExecError { throw e.connectorError(pipeline: pipelineName, role: "sink") }
            throw error
        }
    }

    /// The program's next message, which must be `type` (or an error it reports).
    private func receive(_ c: ExecChild, expecting type: String) async throws -> ExecProtocol.Message {
        let line = try await c.requireLine(timeout: configuration.timeout.seconds)
        let message: ExecProtocol.Message
        do { message = try ExecProtocol.decode(line) } catch {
            let position = await c.linesRead
            await c.kill() // first: its standard error is then read to the end
            throw ExecError(.garbage, program: c.program, "line \(position) of its output is not a protocol message: \(String(decoding: line.prefix(200), as: UTF8.self))",
                            stderrTail: await c.stderrTail)
        }
        if message.type == "error" {
            throw ExecError(.reported(retry: message.retry ?? false), program: c.program, "reported: \(message.message ?? "(no message)")", stderrTail: await c.stderrTail)
        }
        guard message.type == type else {
            throw ExecError(.garbage, program: c.program, "answered '\(message.type)' where '\(type)' was due", stderrTail: await c.stderrTail)
        }
        return message
    }
}
