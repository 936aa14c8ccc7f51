import ConnectorKit
import Foundation
import Logging

/// Each run of a pipeline or job on one daemon at a time, through PostgreSQL advisory locks.
///
/// A claim opens a session and takes `pg_try_advisory_lock` on a 64-bit key derived from the
/// work's name (`hashtextextended`, seeded so that Sluice's keys do not meet an application's).
/// The lock is held by that session for the whole run and released when the lease ends, on every
/// path: `pg_advisory_unlock`, then the session closes. A daemon killed mid-run loses its session,
/// the server releases the lock, and the next claim by another daemon runs the work from the
/// committed checkpoint. The sinks' own fencing (the checkpoint row moves only from the sequence a
/// run opened at) keeps even two runs that somehow overlapped from both committing.
///
/// `sluice_runs` records the start of each work's last successful run, so that a cron firing
/// served by one daemon is not run again by another.
public struct PostgresRunCoordinator: RunCoordinator {
    public let database: PostgresClusterDatabase
    let logger: Logger

    /// Seed of the lock keys ("SLCE").
    static let keySeed = 0x534C_4345
    static let runsTable = "sluice_runs"

    public init(database: PostgresClusterDatabase, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    public var description: String { "PostgreSQL advisory locks on \(database.description)" }

    public func claim(_ work: String) async throws -> RunClaim {
        let session = LockSession(database: database, logger: logger)
        return try await session.claim(work)
    }

    /// The daemon holding `work`'s lock now, if any (for status and tests).
    public func holder(of work: String) async throws -> String? {
        let session = LockSession(database: database, logger: logger)
        return try await session.holderOnly(work)
    }
}

/// One lock session: its own connection on its own thread, ended with the lease. A lease dropped
/// without `end` (a path that forgot it) still releases the lock: the connection closes with it.
actor LockSession {
    nonisolated let executor = ThreadExecutor(name: "sluice-run-lock")
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    let database: PostgresClusterDatabase
    let logger: Logger
    private var connection: PQConnection?
    private var work = ""

    init(database: PostgresClusterDatabase, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    private static let lockKey = "hashtextextended($1, \(PostgresRunCoordinator.keySeed))"
    private static var runs: String { "public." + SQL.identifier(PostgresRunCoordinator.runsTable) }

    func claim(_ work: String) throws -> RunClaim {
        self.work = work
        do {
            let conn = try database.connect(purpose: "lock")
            connection = conn
            let got = try database.run("taking the lock of \(work)") { () throws(PQError) in
                try conn.exec("SELECT pg_try_advisory_lock(\(Self.lockKey))", [work])
            }
            guard got.first?.first == "t" else {
                let holder = try? holder(work, conn)
                close()
                return .heldElsewhere(holder: holder ?? nil)
            }
            try database.createAllowingRace("""
                CREATE TABLE IF NOT EXISTS \(Self.runs) (work text PRIMARY KEY, last_success_start timestamptz NOT NULL,
                    last_success_end timestamptz NOT NULL, node text NOT NULL)
                """, conn)
            let last = try database.run("reading \(PostgresRunCoordinator.runsTable)") { () throws(PQError) in
                try conn.exec("SELECT extract(epoch FROM last_success_start)::float8::text FROM \(Self.runs) WHERE work = $1", [work])
            }
            let started = (last.first?.first ?? nil).flatMap(Double.init).map { Date(timeIntervalSince1970: $0) }
            return .granted(PostgresRunLease(session: self, lastSuccessfulStart: started))
        } catch {
            close()
            throw error
        }
    }

    func holderOnly(_ work: String) throws -> String? {
        defer { close() }
        let conn = try database.connect(purpose: "status")
        connection = conn
        return try holder(work, conn)
    }

    /// The node of the session holding the lock, from `pg_locks` and its `application_name`.
    private func holder(_ work: String, _ conn: PQConnection) throws -> String? {
        let rows = try database.run("looking up the lock of \(work)") { () throws(PQError) in
            try conn.exec("""
                SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND ((l.classid::bigint << 32) | l.objid::bigint) = \(Self.lockKey)
                """, [work])
        }
        guard let name = rows.first?.first ?? nil else { return nil }
        return name.hasPrefix("sluice-lock ") ? String(name.dropFirst("sluice-lock ".count)) : name
    }

    func end(succeededRunStarted: Date?) {
        defer { close() }
        guard let conn = connection, conn.isAlive else {
            logger.warning("the run lock's session was lost before the run ended", metadata: ["work": "\(work)"])
            return
        }
        if let started = succeededRunStarted {
            do {
                _ = try conn.exec("""
                    INSERT INTO \(Self.runs) (work, last_success_start, last_success_end, node) VALUES ($1, to_timestamp($2::float8), now(), $3)
                    ON CONFLICT (work) DO UPDATE SET last_success_start = EXCLUDED.last_success_start, last_success_end = now(), node = EXCLUDED.node
                    """, [work, String(started.timeIntervalSince1970), database.node])
            } catch {
                // Only cron works read it: at worst another daemon serves this firing again.
                logger.warning("cannot record the successful run in \(PostgresRunCoordinator.runsTable): \(error)", metadata: ["work": "\(work)"])
            }
        }
        _ = try? conn.exec("SELECT pg_advisory_unlock(\(Self.lockKey))", [work])
    }

    /// Ends the session (the server releases whatever it held) and the thread.
    private func close() {
        connection = nil
        executor.shutdown()
    }
}

struct PostgresRunLease: RunLease {
    let session: LockSession
    let lastSuccessfulStart: Date?

    func end(succeededRunStarted: Date?) async {
        await session.end(succeededRunStarted: succeededRunStarted)
    }
}
