// The child process of `SinkConformance.checkKill`: builds one built-in sink from its arguments,
// commits some batches, writes more, says "ready" and waits for the SIGKILL.
//
//   SinkConformanceChild jsonl PIPELINE STATE_DIR PATH [--no-truncate] COMMITTED UNCOMMITTED
//   SinkConformanceChild postgres PIPELINE URL PASSWORD SCHEMA TABLE [--two-streams] COMMITTED UNCOMMITTED
//   SinkConformanceChild parquet PIPELINE STATE_DIR ROOT PARTITION_BY [--broken] COMMITTED UNCOMMITTED
//   SinkConformanceChild mysql PIPELINE URL PASSWORD TABLE insert|load_data COMMITTED UNCOMMITTED
//   SinkConformanceChild exec PIPELINE PYTHON SINK_SCRIPT DB TABLE [--broken] COMMITTED UNCOMMITTED
import ConnectorKit
import ConnectorKitTesting
import Connectors
import Foundation
import Logging

let args = Array(CommandLine.arguments.dropFirst())
guard args.count >= 2, let committed = Int(args[args.count - 2]), let uncommitted = Int(args[args.count - 1]) else {
    FileHandle.standardError.write(Data("usage: SinkConformanceChild jsonl|postgres PIPELINE … COMMITTED UNCOMMITTED\n".utf8))
    exit(2)
}
let target: SinkConformance.Target
switch args[0] {
case "jsonl":
    let path = args[3]
    let brokenTruncation = args.contains("--no-truncate")
    target = SinkConformance.Target(
        pipeline: args[1],
        makeSink: { brokenTruncation ? BrokenSink(JSONLSink(path: path), fault: .keepsUncommittedOutput) as any Sink : JSONLSink(path: path) },
        store: LocalCheckpointStore(stateDirectory: args[2], pipeline: args[1]),
        readBack: { [] })
case "postgres":
    var c = PostgresConfiguration(url: args[2], table: args[5])
    c.schema = args[4]
    if args.contains("--two-streams") {
        // As PostgresSinkTests.useTwoStreams.
        c.streams = 2
        c.partition = .init(column: "day")
        c.partition?.premake = 0
    }
    let password = args[3].isEmpty ? nil : args[3]
    let configuration = c
    target = SinkConformance.Target(
        pipeline: args[1],
        makeSink: { PostgresSink(configuration: configuration, password: password, logger: Logger(label: "child")) },
        store: InMemoryCheckpointStore(),
        readBack: { [] })
case "parquet":
    var c = ParquetConfiguration(path: args[3])
    c.partitionBy = args[4].isEmpty ? nil : args[4]
    let configuration = c, root = args[3], broken = args.contains("--broken")
    target = SinkConformance.Target(
        pipeline: args[1],
        makeSink: {
            let sink = try ParquetSink(configuration: configuration, root: root, logger: Logger(label: "child"))
            return broken ? BrokenSink(sink, fault: .ignoresCommittedSequence) as any Sink : sink
        },
        store: LocalCheckpointStore(stateDirectory: args[2], pipeline: args[1]),
        readBack: { [] })
case "mysql":
    var c = MySQLConfiguration(url: args[2], table: args[4])
    c.rowsPerStatement = 200
    c.load = MySQLConfiguration.Load(rawValue: args[5]) ?? .insert
    let configuration = c, password = args[3]
    target = SinkConformance.Target(
        pipeline: args[1],
        makeSink: { MySQLSink(configuration: configuration, password: password, logger: Logger(label: "child")) },
        store: InMemoryCheckpointStore(),
        readBack: { [] })
case "exec":
    var c = ExecConfiguration(command: [args[2], args[3], "--db", args[4], "--table", args[5]])
    c.timeout = ConfigDuration(seconds: 30)
    let configuration = c, pipeline = args[1], broken = args.contains("--broken")
    target = SinkConformance.Target(
        pipeline: pipeline,
        makeSink: {
            let sink = ExecSink(configuration, directory: "/", pipeline: pipeline)
            return broken ? BrokenSink(sink, fault: .storesAStaleCheckpoint) as any Sink : sink
        },
        store: InMemoryCheckpointStore(),
        readBack: { [] })
default:
    FileHandle.standardError.write(Data("unknown sink \(args[0])\n".utf8))
    exit(2)
}
do {
    try await SinkConformance.runKillChild(target, committed: committed, uncommitted: uncommitted)
} catch {
    FileHandle.standardError.write(Data("child failed: \(error)\n".utf8))
    exit(1)
}

