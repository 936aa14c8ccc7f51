import ConnectorKit
import CoreConnectors
import Foundation
import Logging
import PlantPlugins

// modbus-poll HOST:PORT REGISTER... [--unit N] [--samples N] [--interval SECONDS]
//
// Polls a device and prints one JSON line per poll: what commissioning a new PLC needs. A REGISTER
// is NAME=ADDRESS[:TYPE][*SCALE], e.g. temperature=2:int16*0.1 (TYPE: int16, uint16, int32,
// uint32, float32; add @input for an input register).
//
// It runs Sluice's engine without the sluice program: the Modbus source into the JSON-lines sink
// of CoreConnectors, which needs no C library, so this binary links no database or share client.

func usage(_ problem: String) -> Never {
    FileHandle.standardError.write(Data("modbus-poll: \(problem)\nusage: modbus-poll HOST:PORT NAME=ADDRESS[:TYPE][*SCALE][@input]... [--unit N] [--samples N] [--interval SECONDS]\n".utf8))
    exit(64)
}

func register(_ spec: String) -> ModbusConfiguration.Register {
    guard let eq = spec.firstIndex(of: "=") else { usage("'\(spec)' is not NAME=ADDRESS") }
    var rest = Substring(spec[spec.index(after: eq)...])
    var table = ModbusConfiguration.Register.Table.holding
    if rest.hasSuffix("@input") { table = .input; rest = rest.dropLast(6) }
    var scale: Double?
    if let star = rest.firstIndex(of: "*") {
        guard let s = Double(rest[rest.index(after: star)...]) else { usage("bad scale in '\(spec)'") }
        scale = s
        rest = rest[..<star]
    }
    var type = ModbusConfiguration.Register.ValueType.uint16
    if let colon = rest.firstIndex(of: ":") {
        guard let t = ModbusConfiguration.Register.ValueType(rawValue: String(rest[rest.index(after: colon)...])) else { usage("bad type in '\(spec)'") }
        type = t
        rest = rest[..<colon]
    }
    guard let address = Int(rest) else { usage("bad address in '\(spec)'") }
    return .init(name: String(spec[..<eq]), address: address, type: type, table: table, scale: scale)
}

/// The configuration the command line asks for.
func parseCommandLine(_ commandLine: [String]) -> ModbusConfiguration {
    var arguments = commandLine
    var options: [String: String] = [:]
    for name in ["--unit", "--samples", "--interval"] {
        guard let i = arguments.firstIndex(of: name) else { continue }
        guard i + 1 < arguments.count else { usage("\(name) needs a value") }
        options[name] = arguments[i + 1]
        arguments.removeSubrange(i...(i + 1))
    }
    guard arguments.count >= 2 else { usage("give the device and at least one register") }
    var c = ModbusConfiguration(address: arguments[0], registers: arguments.dropFirst().map(register))
    guard let unit = Int(options["--unit"] ?? "1"), let samples = Int(options["--samples"] ?? "1"),
          let interval = Double(options["--interval"] ?? "1") else { usage("--unit and --samples take a whole number, --interval seconds") }
    c.unit = unit
    c.samples = samples
    c.interval = ConfigDuration(seconds: interval)
    c.batch = 1
    do { try c.validate() } catch let issue as ConfigIssue { usage("\(issue.key.joined(separator: ".")): \(issue.message)") } catch { usage("\(error)") }
    return c
}

let configuration = parseCommandLine(Array(CommandLine.arguments.dropFirst()))
LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
let state = NSTemporaryDirectory() + "modbus-poll-\(getpid())"
defer { try? FileManager.default.removeItem(atPath: state) }
let pipeline = Pipeline(name: "modbus-poll", source: ModbusSource(configuration), decoder: nil, transforms: [],
                        sink: JSONLSink(path: "-"), deadLetterPath: state + "/dead-letters.jsonl", commitRows: 1)
let engine = PipelineEngine(pipeline: pipeline, checkpointStore: LocalCheckpointStore(stateDirectory: state, pipeline: "modbus-poll"))
do {
    try await engine.runOnce(context: RunContext(pipeline: "modbus-poll", logger: Logger(label: "modbus-poll")))
} catch {
    FileHandle.standardError.write(Data("modbus-poll: \(error)\n".utf8))
    exit(1)
}
