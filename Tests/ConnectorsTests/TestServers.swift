import ConnectorKit
import ConnectorKitTesting
@testable import Connectors
import Foundation
import Logging
import Testing
import TestSupport

enum TestServers {
    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func isListening(_ port: Int) -> Bool { TCPProbe.listening(port: port) }
}

/// Runs a remote source (SMB, SFTP) through the engine into a collecting sink, semicolon CSV,
/// keeping checkpoints between runs.
final class RemoteHarness<Client: RemoteFileClient>: Sendable {
    let source: TailingSource<RemoteFileSystem<Client>>
    let sink = CollectingSink()
    let engine: PipelineEngine

    init(source: TailingSource<RemoteFileSystem<Client>>, encoding: TextEncoding = .utf8) {
        self.source = source
        engine = PipelineEngine(pipeline: Pipeline(name: "remote-test", source: source, decoder: semicolonCSV(encoding), transforms: [], sink: sink,
                                                   deadLetterPath: TestCleanup.removeAtExit("/tmp/sluice-test-remote-dl-\(UUID().uuidString).jsonl")),
                                checkpointStore: InMemoryCheckpointStore())
    }

    @discardableResult
    func run() async throws -> RunStats.Counts {
        let context = RunContext(pipeline: "remote-test", logger: Logger(label: "remote-test"))
        try await engine.runOnce(context: context)
        return context.stats.counts
    }

    /// The run's error, which must be a ConnectorError.
    func failure() async -> ConnectorError? {
        do { try await run() } catch let e as ConnectorError { return e } catch { Issue.record("not a ConnectorError: \(error)") }
        return nil
    }

    var rows: [String] { sink.rows.map { "\($0["a"]?.description ?? "");\($0["b"]?.description ?? "")" } }
}

func semicolonCSV(_ encoding: TextEncoding = .utf8) -> CSVDecoder {
    var csv = CSVConfiguration()
    csv.delimiter = UInt8(ascii: ";")
    csv.encoding = encoding
    return CSVDecoder(csv)
}

func csvLines(_ range: ClosedRange<Int>) -> String { range.map { "\($0);value \($0)\r\n" }.joined() }

/// A plugin build context for tests.
let testBuildContext = PluginBuildContext(pipeline: "remote-test", configFile: "test.toml", baseDirectory: "/tmp", stateDirectory: "/tmp",
                                          logger: Logger(label: "remote-test"))
