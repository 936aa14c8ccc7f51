import ConnectorKit
import ConnectorKitTesting
import Foundation
import Logging
@testable import PlantPlugins
import Testing

/// The Modbus source against a real Modbus/TCP server (plc.py, pymodbus) on 127.0.0.1.
@Suite(.serialized, .enabled(if: PLCStandIn.available || ProcessInfo.processInfo.environment["CI"] != nil,
                             "no Python with pymodbus: run bash scripts/py-env.sh (under CI this suite always runs)"))
struct ModbusSourceTests {
    typealias Register = ModbusConfiguration.Register

    static func configuration(_ plc: PLCStandIn, _ registers: [Register], samples: Int = 1, batch: Int = 10, interval: Double = 0.05,
                              timeout: Double = 2, wordOrder: ModbusConfiguration.WordOrder = .big) -> ModbusConfiguration {
        var c = ModbusConfiguration(address: plc.address, registers: registers)
        c.samples = samples
        c.batch = batch
        c.interval = ConfigDuration(seconds: interval)
        c.timeout = ConfigDuration(seconds: timeout)
        c.wordOrder = wordOrder
        return c
    }

    /// Runs the source once and returns its batches (or its error).
    static func poll(_ configuration: ModbusConfiguration, from checkpoint: Checkpoint = Checkpoint()) async throws -> [RecordBatch] {
        let batches = Locked<[RecordBatch]>([])
        try await ModbusSource(configuration).run(from: checkpoint, context: RunContext(pipeline: "modbus-test", logger: Logger(label: "test"))) { event in
            if case let .records(b, _, _) = event { batches.withLock { $0.append(b) } }
        }
        return batches.withLock { $0 }
    }

    @Test(arguments: [ModbusConfiguration.WordOrder.big, .little])
    func everyTypeReadsWhatPymodbusWrote(wordOrder: ModbusConfiguration.WordOrder) async throws {
        let plc = try PLCStandIn()
        defer { plc.stop() }
        try plc.write(start: 0, [(-215, "INT16"), (65_000, "UINT16"), (-2_000_000_000, "INT32"), (4_000_000_000, "UINT32"), (3.25, "FLOAT32")],
                      wordOrder: wordOrder.rawValue)
        let registers = [
            Register(name: "t", address: 0, type: .int16, scale: 0.1), Register(name: "u16", address: 1),
            Register(name: "i32", address: 2, type: .int32), Register(name: "u32", address: 4, type: .uint32),
            Register(name: "f", address: 6, type: .float32), Register(name: "in", address: 42, table: .input),
        ]
        let batches = try await Self.poll(Self.configuration(plc, registers, samples: 3, wordOrder: wordOrder))
        #expect(batches.count == 1)
        let b = try #require(batches.first)
        #expect(b.schema.fields.map(\.name) == ["sample", "polled_at", "t", "u16", "i32", "u32", "f", "in"])
        for row in 0..<3 {
            let values = (2..<8).map { b.value(row: row, column: $0) }
            #expect(values == [.double(-21.5), .int(65_000), .int(-2_000_000_000), .int(4_000_000_000), .double(3.25), .int(42)])
            #expect(b.value(row: row, column: 0) == .int(Int64(row + 1)))
        }
        guard case let .timestamp(first) = b.value(row: 0, column: 1), case let .timestamp(last) = b.value(row: 2, column: 1) else {
            Issue.record("polled_at is not a timestamp")
            return
        }
        #expect(abs(Double(first) / 1e6 - Date().timeIntervalSince1970) < 30)
        #expect(last - first >= 90_000, "three polls 50 ms apart span at least 100 ms")
    }

    @Test func itPassesTheRecordSourceConformanceCheck() async throws {
        let plc = try PLCStandIn(simulate: true)
        defer { plc.stop() }
        let c = Self.configuration(plc, [Register(name: "parts", address: 0, type: .uint32)], samples: 8, batch: 2, interval: 0.02)
        try await RecordSourceConformance.check(makeSource: { ModbusSource(c) }, options: .init(key: "sample", replayable: false))
    }

    /// The check can fail: a Modbus source that ignores its checkpoint numbers from 1 again.
    @Test func theConformanceCheckCatchesASourceThatForgetsItsSequence() async throws {
        struct Forgetful: Source {
            let inner: ModbusSource
            func run(from checkpoint: Checkpoint, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws {
                try await inner.run(from: Checkpoint(), context: context, emit: emit)
            }
        }
        let plc = try PLCStandIn()
        defer { plc.stop() }
        let c = Self.configuration(plc, [Register(name: "x", address: 0)], samples: 6, batch: 2, interval: 0.01)
        await #expect(throws: RecordSourceConformance.Failure.self) {
            try await RecordSourceConformance.check(makeSource: { Forgetful(inner: ModbusSource(c)) }, options: .init(key: "sample", replayable: false))
        }
    }

    @Test func aRegisterTheDeviceRefusesIsAConfigurationErrorNamingIt() async throws {
        let plc = try PLCStandIn()
        defer { plc.stop() }
        let error = await #expect(throws: ConnectorError.self) {
            _ = try await Self.poll(Self.configuration(plc, [Register(name: "far", address: 250)]))
        }
        #expect(error?.code == .configuration)
        #expect(error?.description.contains("refused to read 1 register(s) at 250: illegal data address (exception 2)") == true, "\(String(describing: error))")
    }

    @Test func anUnreachableDeviceIsNotConnectedSoTheEngineRetries() async throws {
        let port = try PLCStandIn.freePort()
        var c = ModbusConfiguration(address: "127.0.0.1:\(port)", registers: [Register(name: "x", address: 0)])
        c.samples = 1
        let error = await #expect(throws: ConnectorError.self) { _ = try await Self.poll(c) }
        #expect(error?.code == .notConnected)
        #expect(error?.description.contains("cannot connect: Connection refused") == true, "\(String(describing: error))")
    }

    /// A hung PLC (SIGSTOP: the socket stays open, nothing answers) costs one timeout, not the run.
    @Test func aHungDeviceTimesOutAndTheNextRunReadsAgain() async throws {
        let plc = try PLCStandIn()
        defer { plc.stop() }
        try plc.write(start: 0, [(7, "UINT16")])
        let c = Self.configuration(plc, [Register(name: "x", address: 0)], samples: 1, timeout: 1)
        plc.freeze()
        let started = Date()
        let error = await #expect(throws: ConnectorError.self) { _ = try await Self.poll(c) }
        let took = Date().timeIntervalSince(started)
        #expect(error?.code == .notConnected)
        #expect(took < 5, "a 1 s timeout took \(took) s")
        plc.thaw()
        let batches = try await Self.poll(c)
        #expect(batches.first?.value(row: 0, column: 2) == .int(7))
    }

    @Test func aRunAskedToStopDuringItsIntervalReturnsAtOnce() async throws {
        let plc = try PLCStandIn()
        defer { plc.stop() }
        let c = Self.configuration(plc, [Register(name: "x", address: 0)], samples: 100, batch: 1, interval: 1)
        let stop = StopToken()
        let count = Locked(0)
        let started = Date()
        try await ModbusSource(c).run(from: Checkpoint(), context: RunContext(pipeline: "t", logger: Logger(label: "t"), stop: stop)) { _ in
            count.withLock { $0 += 1 }
            stop.stop()
        }
        #expect(count.withLock { $0 } == 1)
        #expect(Date().timeIntervalSince(started) < 2)
    }

    @Test func configurationErrorsNameTheKey() throws {
        let valid = ModbusConfiguration(address: "10.0.0.5:502", registers: [Register(name: "a", address: 0)])
        try valid.validate()
        var c = valid
        c.address = "10.0.0.5"
        #expect(#expect(throws: ConfigIssue.self) { try c.validate() }?.key == ["address"])
        c = valid
        c.registers.append(Register(name: "sample", address: 1))
        #expect(#expect(throws: ConfigIssue.self) { try c.validate() }?.key == ["registers", "1", "name"])
        c = valid
        c.registers = [Register(name: "a", address: 65_535, type: .uint32)]
        #expect(#expect(throws: ConfigIssue.self) { try c.validate() }?.key == ["registers", "0", "address"])
    }
}
