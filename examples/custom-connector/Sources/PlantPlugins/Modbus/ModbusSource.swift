import ConnectorKit
import Foundation

/// Polls the configured registers `samples` times, `interval` apart, and emits a batch every
/// `batch` polls. Each poll is one row: `sample` (a sequence number that goes on across runs),
/// `polled_at`, then one column per register.
///
/// Exactly-once: the cursor committed with a batch is the sequence number of its last row, so
/// a run after a crash numbers on from what was committed (a value never read cannot be read
/// later: a poller loses the polls it did not make, never rows it made).
public struct ModbusSource: Source {
    let configuration: ModbusConfiguration
    let plan: ReadPlan
    /// The checkpoint key: one per device and unit.
    let stream: String

    public init(_ configuration: ModbusConfiguration) {
        self.configuration = configuration
        plan = ReadPlan(configuration.registers)
        stream = "modbus://\(configuration.address)/\(configuration.unit)"
    }

    public var schema: Schema {
        Schema([Field("sample", .int64, nullable: false), Field("polled_at", .timestamp, nullable: false)]
            + configuration.registers.map { Field($0.name, $0.isFloat ? .float64 : .int64, nullable: false) })
    }

    public func run(from checkpoint: Checkpoint, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws {
        guard let (host, port) = configuration.hostAndPort else { return }
        let client = ModbusClient(host: host, port: port, unit: UInt8(configuration.unit), timeout: configuration.timeout.seconds)
        var rows = Rows(registers: configuration.registers)
        var sequence = checkpoint.files[stream]?.offset ?? 0
        let started = Date()
        var failure: (any Error)?
        for poll in 0..<configuration.samples {
            if poll > 0 {
                // Ticks on a fixed grid from the start, so a slow read does not shift later polls.
                await sleep(until: started.addingTimeInterval(Double(poll) * configuration.interval.seconds), stop: context.stop)
            }
            if context.stop.isStopped { break }
            do {
                let raw = try await plan.read(with: client)
                sequence += 1
                rows.append(sequence: sequence, at: Date(), raw: raw, wordOrder: configuration.wordOrder)
                if rows.count == configuration.batch {
                    try await emit(rows.take(stream: stream, schema: schema))
                }
            } catch {
                failure = error
                break
            }
        }
        if failure == nil, rows.count > 0 {
            do { try await emit(rows.take(stream: stream, schema: schema)) } catch { failure = error }
        }
        await client.close()
        if let failure { throw connectorError(failure, context: context) }
    }

    private func sleep(until date: Date, stop: StopToken) async {
        while !stop.isStopped {
            let left = date.timeIntervalSinceNow
            if left <= 0 { return }
            try? await Task.sleep(for: .seconds(min(left, 0.2)))
        }
    }

    /// Modbus errors as the engine acts on them: an unreachable or silent device is retried with
    /// backoff; a refused register is the pipeline file's mistake.
    private func connectorError(_ error: any Error, context: RunContext) -> any Error {
        guard let e = error as? ModbusError else { return error }
        let code: ConnectorError.Code = switch e.kind {
        case .notConnected, .timedOut: .notConnected
        case .protocolViolation: .invalidData
        case .exception: .configuration
        }
        return ConnectorError(code, e.description, pipeline: context.pipeline, plugin: "modbus", underlying: e)
    }
}

/// Which reads fetch the configured registers: per table, neighbouring registers in one request
/// (up to 125), a new request where the gap exceeds `maxGap` — many devices refuse a read that
/// spans registers they do not have.
struct ReadPlan: Sendable {
    struct Request: Sendable, Equatable {
        var function: ModbusFrame.Function
        var start: Int
        var count: Int
    }

    static let maxGap = 8
    let requests: [Request]

    init(_ registers: [ModbusConfiguration.Register]) {
        var requests: [Request] = []
        for table in [ModbusConfiguration.Register.Table.holding, .input] {
            let function: ModbusFrame.Function = table == .holding ? .readHoldingRegisters : .readInputRegisters
            let used = Set(registers.filter { $0.table == table }.flatMap { r in r.address..<(r.address + r.type.width) }).sorted()
            var current: Request?
            for address in used {
                if var r = current, address - (r.start + r.count) <= Self.maxGap, address - r.start < ModbusFrame.maxRegistersPerRead {
                    r.count = address - r.start + 1
                    current = r
                } else {
                    if let r = current { requests.append(r) }
                    current = Request(function: function, start: address, count: 1)
                }
            }
            if let r = current { requests.append(r) }
        }
        self.requests = requests
    }

    /// One poll: every request, in order; the words by table and register number.
    func read(with client: ModbusClient) async throws(ModbusError) -> RawPoll {
        var poll = RawPoll()
        for r in requests {
            let words = try await client.read(r.function, start: UInt16(r.start), count: r.count)
            for (i, w) in words.enumerated() {
                if r.function == .readHoldingRegisters { poll.holding[r.start + i] = w } else { poll.input[r.start + i] = w }
            }
        }
        return poll
    }
}

struct RawPoll: Sendable {
    var holding: [Int: UInt16] = [:]
    var input: [Int: UInt16] = [:]
}

/// The rows of the batch being filled, column by column.
struct Rows {
    let registers: [ModbusConfiguration.Register]
    private var sequences: [Int64] = []
    private var times: [Int64] = []
    private var integers: [[Int64]]
    private var floats: [[Double]]

    init(registers: [ModbusConfiguration.Register]) {
        self.registers = registers
        integers = Array(repeating: [], count: registers.count)
        floats = Array(repeating: [], count: registers.count)
    }

    var count: Int { sequences.count }

    mutating func append(sequence: Int64, at date: Date, raw: RawPoll, wordOrder: ModbusConfiguration.WordOrder) {
        sequences.append(sequence)
        times.append(Int64((date.timeIntervalSince1970 * 1_000_000).rounded()))
        for (i, r) in registers.enumerated() {
            let table = r.table == .holding ? raw.holding : raw.input
            let value = RegisterValue.decode(r.type, words: (0..<r.type.width).map { table[r.address + $0] ?? 0 }, wordOrder: wordOrder)
            if r.isFloat { floats[i].append(value.asDouble * (r.scale ?? 1)) } else { integers[i].append(value.asInteger) }
        }
    }

    mutating func take(stream: String, schema: Schema) -> SourceEvent {
        var columns = [Column(.int64(sequences)), Column(.timestamp(times))]
        for (i, r) in registers.enumerated() {
            columns.append(r.isFloat ? Column(.float64(floats[i])) : Column(.int64(integers[i])))
        }
        var cursor = FileCursor()
        cursor.offset = sequences.last ?? 0
        cursor.lines = cursor.offset
        let batch = RecordBatch(schema: schema, columns: columns,
                                origins: RecordOrigins(file: stream, lines: sequences, byteOffsets: sequences))
        sequences.removeAll(keepingCapacity: true)
        times.removeAll(keepingCapacity: true)
        for i in registers.indices {
            integers[i].removeAll(keepingCapacity: true)
            floats[i].removeAll(keepingCapacity: true)
        }
        return .records(batch, file: stream, cursor: cursor)
    }
}

/// A register value from its 16-bit words.
enum RegisterValue: Equatable {
    case integer(Int64)
    case float(Float)

    static func decode(_ type: ModbusConfiguration.Register.ValueType, words: [UInt16], wordOrder: ModbusConfiguration.WordOrder) -> RegisterValue {
        let pair = wordOrder == .big ? UInt32(words[0]) << 16 | UInt32(words.count > 1 ? words[1] : 0)
                                     : UInt32(words.count > 1 ? words[1] : 0) << 16 | UInt32(words[0])
        return switch type {
        case .uint16: .integer(Int64(words[0]))
        case .int16: .integer(Int64(Int16(bitPattern: words[0])))
        case .uint32: .integer(Int64(pair))
        case .int32: .integer(Int64(Int32(bitPattern: pair)))
        case .float32: .float(Float(bitPattern: pair))
        }
    }

    var asInteger: Int64 { if case let .integer(v) = self { v } else { 0 } }
    var asDouble: Double {
        switch self {
        case let .integer(v): Double(v)
        case let .float(f): Double(f)
        }
    }
}
