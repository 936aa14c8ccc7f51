import ConnectorKit
@testable import Connectors
@testable import PostgresConnector
import Foundation
import Logging
import Testing
import TestSupport

/// The pieces that let several daemons share pipelines, against the real server: the advisory
/// lock of a run, the last successful start, the shared checkpoint store and the sinks' fencing.
@Suite(.blockingWork, .serialized, .enabled(if: TestPostgres.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
struct PostgresCoordinationTests {
    let quiet: Logger = { var l = Logger(label: "test"); l.logLevel = .critical; return l }()

    func coordinator(_ node: String) -> PostgresRunCoordinator {
        PostgresRunCoordinator(database: PostgresClusterDatabase(url: TestPostgres.url, password: TestPostgres.password, node: node), logger: quiet)
    }

    func lease(_ claim: RunClaim) -> (any RunLease)? {
        if case let .granted(l) = claim { return l }
        return nil
    }

    @Test func aRunIsClaimedByOneDaemonAtATimeAndReleasedOnEveryPath() async throws {
        let work = "coord-\(UUID().uuidString.prefix(8))"
        let a = coordinator("node-a"), b = coordinator("node-b")
        let first = try #require(lease(try await a.claim(work)))
        #expect(first.lastSuccessfulStart == nil)
        // While a holds it, b is told who does.
        guard case let .heldElsewhere(holder) = try await b.claim(work) else { Issue.record("b claimed a run a holds"); return }
        #expect(holder == "node-a")
        #expect(try await b.holder(of: work) == "node-a")
        // Another work is not blocked.
        let other = try #require(lease(try await b.claim(work + "-other")))
        await other.end(succeededRunStarted: nil)

        // A failed run releases too, and records no success.
        await first.end(succeededRunStarted: nil)
        #expect(try await b.holder(of: work) == nil)
        let second = try #require(lease(try await b.claim(work)))
        #expect(second.lastSuccessfulStart == nil)
        let started = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 * 1000).rounded() / 1000)
        await second.end(succeededRunStarted: started)

        // The success is seen by every daemon.
        let third = try #require(lease(try await a.claim(work)))
        let seen = try #require(third.lastSuccessfulStart)
        #expect(abs(seen.timeIntervalSince(started)) < 0.001)
        await third.end(succeededRunStarted: nil)
        _ = try TestPostgres.query("DELETE FROM sluice_runs WHERE work LIKE '\(work)%'")
    }

    @Test func aDaemonWhoseSessionDiesLosesTheRun() async throws {
        let work = "coord-\(UUID().uuidString.prefix(8))"
        let a = coordinator("node-dies"), b = coordinator("node-survives")
        let held = try #require(lease(try await a.claim(work)))
        guard case .heldElsewhere = try await b.claim(work) else { Issue.record("claimed twice"); return }
        // What a SIGKILLed daemon's session amounts to: the server ends it and frees its locks.
        let ended = try TestPostgres.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sluice-lock node-dies'")
        #expect(ended.count == 1)
        var taken: (any RunLease)?
        for _ in 0..<100 where taken == nil {
            taken = lease(try await b.claim(work))
            if taken == nil { try await Task.sleep(nanoseconds: 20_000_000) }
        }
        let takenOver = try #require(taken)
        await takenOver.end(succeededRunStarted: nil)
        await held.end(succeededRunStarted: Date()) // its session is gone: nothing recorded, no crash
        let recorded = try TestPostgres.query("SELECT count(*) FROM sluice_runs WHERE work = '\(work)'")
        #expect(recorded.first?.first == "0")
    }

    @Test func anUnreachableClusterDatabaseIsAnErrorNotAGrant() async throws {
        let dead = PostgresRunCoordinator(database: PostgresClusterDatabase(url: TestPostgres.url(port: 1), password: nil, node: "x", connectTimeout: 2),
                                          logger: quiet)
        await #expect(throws: ConnectorError.self) { _ = try await dead.claim("anything") }
    }

    @Test func theSharedCheckpointStoreRefusesAStaleSave() async throws {
        let pipeline = "state-\(UUID().uuidString.prefix(8))"
        defer { _ = try? TestPostgres.query("DELETE FROM sluice_checkpoints WHERE pipeline = '\(pipeline)'") }
        let database = PostgresClusterDatabase(url: TestPostgres.url, password: TestPostgres.password, node: "n")
        let mine = PostgresCheckpointStore(database: database, pipeline: pipeline)
        let theirs = PostgresCheckpointStore(database: database, pipeline: pipeline)
        #expect(try await mine.load() == nil)
        var c = Checkpoint()
        c.sequence = 1
        var cursor = FileCursor()
        cursor.offset = 10
        c.files["a.csv"] = cursor
        try await mine.save(c)
        #expect(try await theirs.load() == c)
        // Both opened at 1; theirs commits 2 first; mine is refused and theirs stays.
        var t = c
        t.sequence = 2
        t.files["a.csv"]?.offset = 20
        try await theirs.save(t)
        var m = c
        m.sequence = 2
        m.files["a.csv"]?.offset = 15
        await #expect(throws: ConnectorError.self) { try await mine.save(m) }
        #expect(try await mine.load() == t)
    }

    @Test func twoSinksLoadingThePipelineAtOnceCannotBothCommit() async throws {
        let schema = try TestPostgres.freshSchema()
        defer { TestPostgres.dropSchema(schema) }
        let context = SinkContext(pipeline: "fence-\(schema)")
        let first = TestPostgres.sink { $0.schema = schema; $0.table = "fenced" }
        let second = TestPostgres.sink { $0.schema = schema; $0.table = "fenced" }
        let opened1 = try await first.open(context: context)
        let opened2 = try await second.open(context: context)
        #expect(opened1 == opened2)
        func rows(_ values: [Int64]) -> RecordBatch {
            RecordBatch(schema: Schema([Field("v", .int64)]), columns: [Column(.int64(values))],
                        origins: RecordOrigins(file: "f.csv", lines: values.map { $0 }, byteOffsets: values.map { $0 * 10 },
                                               raw: RawRecords(StringColumn(values.map { "\($0)" }))))
        }
        _ = try await first.write(rows([1, 2, 3]))
        _ = try await second.write(rows([1, 2, 3]))
        var next = opened1
        next.sequence += 1
        var cursor = FileCursor()
        cursor.offset = 30
        next.files["f.csv"] = cursor
        _ = try await first.flush()
        _ = try await first.commit(next)
        _ = try await second.flush()
        do {
            _ = try await second.commit(next)
            Issue.record("the second writer committed the same rows again")
        } catch let error as ConnectorError {
            #expect(error.code == .fenced, "\(error)")
        }
        try await first.close()
        try await second.close()
        let count = try TestPostgres.query("SELECT count(*), sum(v) FROM \(schema).fenced")
        #expect(count.first == ["3", "6"])
        // The next open of the refused sink starts from the winner's checkpoint.
        let reopened = try await second.open(context: context)
        #expect(reopened.sequence == next.sequence)
        try await second.close()
    }
}
