import ConnectorKit
import ConnectorKitTesting
@testable import Connectors
@testable import PostgresConnector
import Foundation
import Logging
import Testing
import TestSupport

/// `streams = 2`: every other batch over a second connection, committed through a prepared
/// transaction named by the checkpoint. Against the real server, every column of every row
/// compared (`SinkConformance.canonical`).
@Suite(.blockingWork, .serialized, .enabled(if: TestPostgres.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
struct PostgresTwoStreamTests {
    let pipeline = "pg-two-\(UUID().uuidString.prefix(6).lowercased())"

    func sink(_ schema: String, streams: Int = 2) -> PostgresSink {
        TestPostgres.sink {
            $0.schema = schema
            $0.table = "conformance"
            $0.streams = streams
            $0.timeout = ConfigDuration(seconds: 10) // a lock wait that should not happen fails fast
            $0.partition = .init(column: "day")
            $0.partition?.premake = 0
        }
    }

    /// The conformance load's batch `i`; `shifted` batches have their days 100 days later (new partitions).
    static func batch(_ i: Int, shifted: Set<Int> = []) -> RecordBatch {
        var b = SinkConformance.batch(i)
        if shifted.contains(i), case let .date(days) = b.columns[4].values {
            b.columns[4] = Column(.date(days.map { $0 + 100 }))
        }
        return b
    }

    static func expected(_ range: Range<Int>, shifted: Set<Int> = [], without: Set<Int64> = []) -> [String] {
        range.flatMap { i in
            let b = batch(i, shifted: shifted)
            return (0..<b.count).filter { r in !without.contains(Int64(r + i * b.count)) }.map { SinkConformance.canonical(b, row: $0) }
        }
    }

    func preparedLeft() throws -> Int {
        Int(try TestPostgres.query("SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'sluice/\(pipeline)/%'")[0][0] ?? "") ?? -1
    }

    /// Rolls back what a failed test left prepared (it would hold locks on the schema for ever).
    func cleanUp(_ schema: String) {
        for row in (try? TestPostgres.query("SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'sluice/\(pipeline)/%'")) ?? [] {
            if let gid = row[0] { _ = try? TestPostgres.connection().exec("ROLLBACK PREPARED '\(gid)'") }
        }
        TestPostgres.dropSchema(schema)
        _ = try? TestPostgres.connection().exec("DELETE FROM sluice_checkpoints WHERE pipeline = $1", [pipeline])
    }

    struct Outcome { var replays = 0; var refused: [DeadLetter] = []; var checkpoint = Checkpoint() }

    /// Loads batches up to `end`, `perCommit` per commit, as the engine does: a replay request
    /// closes and reopens the sink and starts again from the last commit; the refused records of
    /// a committed transaction count.
    func load(_ sink: PostgresSink, to end: Int, perCommit: Int, shifted: Set<Int> = []) async throws -> Outcome {
        var outcome = Outcome()
        var checkpoint = try await sink.open(context: SinkContext(pipeline: pipeline))
        var next = Int(checkpoint.files[SinkConformance.stream]?.offset ?? 0)
        while next < end {
            let upTo = min(next + perCommit, end)
            do {
                var refused: [DeadLetter] = []
                for i in next..<upTo { refused += try await sink.write(Self.batch(i, shifted: shifted)) }
                refused += try await sink.flush()
                var cp = checkpoint
                cp.sequence += 1
                var cursor = FileCursor()
                cursor.offset = Int64(upTo)
                cp.files[SinkConformance.stream] = cursor
                checkpoint = try await sink.commit(cp)
                outcome.refused += refused
                next = upTo
            } catch let error as ConnectorError where error.code == .replay {
                outcome.replays += 1
                try #require(outcome.replays < 4, "replays without end: \(error)")
                try await sink.close()
                checkpoint = try await sink.open(context: SinkContext(pipeline: pipeline))
                next = Int(checkpoint.files[SinkConformance.stream]?.offset ?? 0)
            }
        }
        outcome.checkpoint = checkpoint
        return outcome
    }

    @Test func everyOtherBatchTakesTheSecondConnectionAndBothCommitAsOne() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { cleanUp(schema) }
        let s = sink(schema)
        // The first commit makes the 40 partitions: it runs on one stream (the second connection
        // cannot see them before that commit).
        _ = try await load(s, to: 1, perCommit: 1)
        #expect(await s.rowsOnSecondStream == 0)
        let outcome = try await load(s, to: 9, perCommit: 2)
        try await s.close()
        #expect(outcome.replays == 0)
        #expect(await s.rowsOnSecondStream == 4 * 500, "batches 1, 3, 5 and 7 go over the second connection")
        try SinkConformance.compare(try PostgresSinkTests.conformanceRows(schema), Self.expected(0..<9), when: "after nine batches over two streams")
        #expect(try preparedLeft() == 0)
        #expect(outcome.checkpoint.sinkState[PostgresSink.preparedKey]?.hasPrefix("sluice/\(pipeline)/5/") == true)
    }

    @Test(arguments: [CommitCrashPoint.afterPrepare, .afterCheckpointCommit])
    func aCrashInTheMiddleOfTheTwoPhaseCommitLosesAndRepeatsNothing(at point: CommitCrashPoint) async throws {
        let schema = try TestPostgres.freshSchema()
        defer { cleanUp(schema) }
        let first = sink(schema)
        _ = try await load(first, to: 3, perCommit: 1)
        #expect(await first.rowsOnSecondStream == 500)
        // Batches 3 (second stream) and 4 in one commit that dies at `point`.
        var checkpoint = try await first.open(context: SinkContext(pipeline: pipeline))
        for i in 3..<5 { #expect(try await first.write(Self.batch(i)).isEmpty) }
        #expect(try await first.flush().isEmpty)
        checkpoint.sequence += 1
        var cursor = FileCursor()
        cursor.offset = 5
        checkpoint.files[SinkConformance.stream] = cursor
        await first.crash(at: point)
        await #expect(throws: CommitCrashPoint.Crash.self) { _ = try await first.commit(checkpoint) }
        try await first.close()
        #expect(try preparedLeft() == 1, "the crash leaves the second stream's transaction prepared")

        // A new process: open settles the prepared transaction by what the checkpoint says.
        let second = sink(schema)
        let reopened = try await second.open(context: SinkContext(pipeline: pipeline))
        let resumed = Int(reopened.files[SinkConformance.stream]?.offset ?? -1)
        #expect(resumed == (point == .afterPrepare ? 3 : 5))
        #expect(try preparedLeft() == 0)
        try SinkConformance.compare(try PostgresSinkTests.conformanceRows(schema), Self.expected(0..<resumed), when: "after a crash \(point) and a reopen")
        _ = try await load(second, to: 8, perCommit: 2)
        try await second.close()
        try SinkConformance.compare(try PostgresSinkTests.conformanceRows(schema), Self.expected(0..<8), when: "after a crash \(point) and the replay")
        #expect(try preparedLeft() == 0)
    }

    @Test func aPartitionNeededWhileTheSecondStreamHoldsRowsIsMadeInAReplayOnOneStream() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { cleanUp(schema) }
        let s = sink(schema)
        _ = try await load(s, to: 3, perCommit: 3)
        // Batch 3 goes over the second connection; batch 4 needs 40 new partitions, which would
        // wait for that connection's locks: the commit is replayed on one stream.
        let outcome = try await load(s, to: 9, perCommit: 3, shifted: [4])
        try await s.close()
        #expect(outcome.replays == 1)
        #expect(await s.rowsOnSecondStream == 500 + 500, "batch 3 before the replay, batch 6 or 7 after it")
        try SinkConformance.compare(try PostgresSinkTests.conformanceRows(schema), Self.expected(0..<9, shifted: [4]), when: "after new partitions in the middle of a two-stream commit")
        let partitions = try TestPostgres.query("SELECT count(*) FROM pg_inherits WHERE inhparent = '\(schema).conformance'::regclass AND inhrelid::regclass::text ~ '_p202[45]'")[0][0]
        #expect(partitions == "80")
        #expect(try preparedLeft() == 0)
    }

    @Test func aRowRefusedOnTheSecondConnectionIsDeadLetteredAndTheRestLandOnce() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { cleanUp(schema) }
        let s = sink(schema)
        _ = try await load(s, to: 1, perCommit: 1)
        // Row 777 is in batch 1, which goes over the second connection.
        _ = try TestPostgres.connection().exec("ALTER TABLE \(schema).conformance ADD CONSTRAINT not_777 CHECK (id <> 777)")
        let outcome = try await load(s, to: 5, perCommit: 2)
        try await s.close()
        #expect(outcome.replays == 1)
        #expect(outcome.refused.count == 1)
        #expect(outcome.refused.first?.origin.line == 778)
        #expect(outcome.refused.first?.reason.contains("not_777") == true)
        try SinkConformance.compare(try PostgresSinkTests.conformanceRows(schema), Self.expected(0..<5, without: [777]), when: "after a refusal on the second connection")
        #expect(try preparedLeft() == 0)
    }

    @Test func aPreparedTransactionOfAnotherPipelineIsLeftAlone() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { cleanUp(schema) }
        // A pipeline whose name continues this one's with a "/": its prepared transaction is not ours.
        let other = "sluice/\(pipeline)/x/3/abc"
        let conn = try TestPostgres.connection()
        _ = try conn.exec("BEGIN; CREATE TABLE \(schema).other (i int); PREPARE TRANSACTION '\(other)'")
        defer { _ = try? TestPostgres.connection().exec("ROLLBACK PREPARED '\(other)'") }
        let s = sink(schema)
        _ = try await s.open(context: SinkContext(pipeline: pipeline))
        try await s.close()
        #expect(try TestPostgres.query("SELECT count(*) FROM pg_prepared_xacts WHERE gid = '\(other)'")[0][0] == "1")
        #expect(PostgresPreparedTransactions(pipeline: pipeline).isOurs("sluice/\(pipeline)/12/9f") == true)
        #expect(PostgresPreparedTransactions(pipeline: pipeline).isOurs(other) == false)
    }

    @Test func streamsIsOneOrTwoAndTwoOnlyForAppend() throws {
        var c = PostgresConfiguration(url: "postgresql://etl@127.0.0.1:5432/plant", table: "t")
        c.streams = 3
        #expect(throws: ConfigIssue.self) { try c.validate() }
        c.streams = 2
        try c.validate()
        c.mode = .upsert
        c.key = ["id"]
        do {
            try c.validate()
            Issue.record("streams = 2 with an upsert passed validation")
        } catch let issue as ConfigIssue {
            #expect(issue.key == ["streams"])
        }
    }

    @Test func aServerWithoutPreparedTransactionsIsReportedByName() async throws {
        // A second throwaway server with max_prepared_transactions = 0 (PostgreSQL's default).
        let port = 55_441, dir = "/tmp/sluice-test-pg-noprepare"
        let env = ["SLUICE_PG_PORT": "\(port)", "SLUICE_PG_DIR": dir, "SLUICE_PG_OPTS": "-c max_prepared_transactions=0"]
        try #require(try TestScripts.run("pg-start.sh", environment: env) == 0)
        defer { _ = try? TestScripts.run("pg-stop.sh", environment: env) }
        var c = PostgresConfiguration(url: TestPostgres.url(port: port), table: "t")
        c.streams = 2
        let s = PostgresSink(configuration: c, password: TestPostgres.password, logger: Logger(label: "test"))
        do {
            _ = try await s.open(context: SinkContext(pipeline: pipeline))
            Issue.record("streams = 2 opened on a server that allows no prepared transaction")
        } catch let error as ConnectorError {
            #expect(error.code == .configuration)
            #expect("\(error)".contains("max_prepared_transactions = 0"))
        }
        try await s.close()
    }
}

/// Runs one of the repository's scripts/*.sh with extra environment; returns its exit status.
enum TestScripts {
    static func run(_ name: String, environment: [String: String]) throws -> Int32 {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root.appendingPathComponent("scripts/\(name)").path]
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        p.standardOutput = FileHandle.nullDevice
        try ProcessLaunch.run(p)
        return p.waitForEnd()
    }
}
