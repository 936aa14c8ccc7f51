import ConnectorKit
import Connectors
import Foundation
import Logging

/// `bench smb` (and `bench sftp`): a full pull of one large file through the file source, against
/// the reference client getting the same file in the same run; then a 1 MiB append to that file
/// and the bytes that travel to load it. Bytes on the wire are the loopback interface's counters
/// (both directions, protocol and TCP headers included), so only run it on an otherwise idle machine.
struct RemotePullBenchmark<FS: FileSystem> {
    var name: String
    /// The file's folder on the server's disk, and the file system reaching that folder remotely.
    var localFolder: String
    /// Pairs compared like with like (e.g. both encrypted): Sluice's source, made afresh per pull
    /// (a new connection, so each pull pays its connect and login as the reference client does),
    /// and the reference client, which must write the file to /dev/null.
    var comparisons: [Comparison]
    var fileSystemBytesRead: @Sendable (FS) async -> Int64

    struct Comparison {
        var label: String
        var makeFileSystem: () throws -> FS
        var reference: (label: String, path: String, args: [String])
    }
    var sizeMiB: Int
    var repetitions = 3

    let file = "big.csv"

    func run() async throws {
        let path = "\(localFolder)/\(file)"
        try makeFile(path)
        let bytes = Double(sizeMiB) * 1_048_576
        print("\(name) pull benchmark: \(sizeMiB) MiB file (\(path)), \(repetitions) runs each, alternating; best run shown")
        for c in comparisons {
            var ours: [(Double, Int64)] = []
            var theirs: [(Double, Int64)] = []
            for _ in 0..<repetitions {
                ours.append(try await measuredOnLoopback { try await pull(try c.makeFileSystem()) })
                theirs.append(try await measuredOnLoopback {
                    let r = try spawnMeasured(c.reference.path, c.reference.args)
                    guard r.status == 0 else { throw BenchError("\(c.reference.label) failed (\(r.status)): \(r.stderr)") }
                })
            }
            let bestOurs = ours.min { $0.0 < $1.0 }!
            let bestTheirs = theirs.min { $0.0 < $1.0 }!
            func line(_ label: String, _ m: (Double, Int64)) {
                print("  \(label.padding(toLength: 44, withPad: " ", startingAt: 0)) \(String(format: "%7.3f", m.0)) s  \(String(format: "%7.1f", bytes / m.0 / 1_048_576)) MiB/s  \(String(format: "%6.1f", Double(m.1) / 1_048_576)) MiB on the wire")
            }
            print("  \(c.label):")
            line("sluice \(name) source (pull)", bestOurs)
            line(c.reference.label, bestTheirs)
            print("    Sluice ÷ \(c.reference.label) (speed): \(String(format: "%.2f", bestTheirs.0 / bestOurs.0))×  (target ≥ 0.8×)")
            print("    all runs, s: sluice \(ours.map { String(format: "%.3f", $0.0) }.joined(separator: " ")); reference \(theirs.map { String(format: "%.3f", $0.0) }.joined(separator: " "))")
        }

        // Append: load the whole file through the engine (checkpoint kept), append 1 MiB, load again.
        let state = NSTemporaryDirectory() + "sluice-bench-\(name)-state-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: state) }
        let fileSystem = try comparisons[0].makeFileSystem()
        let engine = PipelineEngine(
            pipeline: Pipeline(name: "bench-\(name)", source: TailingSource(fileSystem: fileSystem, options: TailerOptions(glob: Glob(file))),
                               decoder: CSVDecoder(CSVConfiguration()), transforms: [], sink: DiscardSink(), deadLetterPath: state + "/dead-letter.jsonl"),
            checkpointStore: LocalCheckpointStore(stateDirectory: state, pipeline: "bench-\(name)"))
        let logger = Logger(label: "bench")
        try await engine.runOnce(context: RunContext(pipeline: "bench", logger: logger))
        let appended = try append(path, bytes: 1 << 20)
        let before = await fileSystemBytesRead(fileSystem)
        let context = RunContext(pipeline: "bench", logger: logger)
        let (_, wire) = try await measuredOnLoopback { try await engine.runOnce(context: context) }
        let payload = await fileSystemBytesRead(fileSystem) - before
        print("  1 MiB append (\(appended) B) to the \(sizeMiB) MiB file, loaded: \(context.stats.counts.recordsWritten) records;",
              "file bytes read \(payload) B; on the wire \(String(format: "%.3f", Double(wire) / 1_048_576)) MiB (target ≤ 1.1 MB = \(String(format: "%.3f", 1.1e6 / 1_048_576)) MiB)")
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The whole file through the tailer, no decoding: what the source moves and how fast.
    func pull(_ fileSystem: FS) async throws {
        let source = TailingSource(fileSystem: fileSystem, options: TailerOptions(glob: Glob(file)))
        let counted = Counter()
        try await source.run(from: Checkpoint(), context: RunContext(pipeline: "bench", logger: Logger(label: "bench"))) { event in
            if case let .bytes(_, chunk) = event { counted.add(chunk.count) }
        }
        guard counted.value == Int64(sizeMiB) << 20 else { throw BenchError("pulled \(counted.value) bytes, expected \(Int64(sizeMiB) << 20)") }
    }

    func makeFile(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: localFolder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        let target = sizeMiB << 20
        var block = "id,machine,value\n".data(using: .utf8)!
        var i = 0
        while block.count < target {
            i += 1
            block.append(contentsOf: Array("\(i),press-\(i % 7),\(Double(i % 1000) / 10)\n".utf8))
        }
        block.count = target - 1
        block.append(0x0A)
        try block.write(to: URL(fileURLWithPath: path))
    }

    func append(_ path: String, bytes: Int) throws -> Int {
        var data = Data()
        var i = 0
        while data.count < bytes { i += 1; data.append(contentsOf: Array("\(900_000_000 + i),press-a,\(i % 100)\n".utf8)) }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: data)
        try h.close()
        return data.count
    }

    /// Wall time of `body`, and the bytes the loopback interface carried meanwhile.
    func measuredOnLoopback(_ body: () async throws -> Void) async throws -> (Double, Int64) {
        let before = Self.loopbackBytes()
        let started = Date()
        try await body()
        return (Date().timeIntervalSince(started), Self.loopbackBytes() - before)
    }

    /// Bytes received on `lo` (on loopback every byte sent is also received once).
    static func loopbackBytes() -> Int64 {
        guard let text = try? String(contentsOfFile: "/proc/net/dev", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("lo:") {
            let fields = line.split(separator: ":")[1].split(separator: " ")
            return Int64(fields[0]) ?? 0
        }
        return 0
    }
}

/// A byte counter the tailer's `@Sendable` callback can add to.
final class Counter: @unchecked Sendable {
    // @unchecked: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var total: Int64 = 0
    func add(_ n: Int) { lock.lock(); total += Int64(n); lock.unlock() }
    var value: Int64 { lock.lock(); defer { lock.unlock() }; return total }
}
