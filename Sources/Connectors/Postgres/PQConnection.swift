internal import CLibPQ
import ConnectorKit
import Foundation

/// An error from libpq or the server: SQLSTATE (when the server sent one) and its message.
public struct PQError: Error, Sendable, CustomStringConvertible {
    /// Five-character SQLSTATE, e.g. `23503` (foreign key violation); empty for client-side errors.
    public var sqlState: String
    public var message: String
    /// True when the connection is gone (server down, restarted, network): worth a reconnect.
    public var connectionLost: Bool

    public var description: String { sqlState.isEmpty ? message : "\(message) (SQLSTATE \(sqlState))" }

    /// Class 23: integrity constraint violations (foreign key, unique, not null, check).
    public var isConstraintViolation: Bool { sqlState.hasPrefix("23") }
    /// Class 22: data exceptions (value out of range, invalid text) — also a per-row problem.
    public var isDataException: Bool { sqlState.hasPrefix("22") }
}

/// One libpq connection. Not thread-safe: owned by one actor running on its own thread
/// (`PostgresSink`). All unsafe code for libpq lives in this file.
final class PQConnection {
    private let conn: OpaquePointer

    /// Connects with a URL (`postgresql://…`) or a `key=value` string; `password` overrides the one
    /// in it (libpq also reads `~/.pgpass` and `PGPASSWORD` by itself).
    init(conninfo: String, password: String?, connectTimeout: Int) throws(PQError) {
        var keys = ["dbname", "application_name", "connect_timeout"]
        var values = [conninfo, "sluice", String(connectTimeout)]
        if let password { keys.append("password"); values.append(password) }
        let cKeys = keys.map { strdup($0) } + [nil]
        let cValues = values.map { strdup($0) } + [nil]
        defer { cKeys.forEach { free($0) }; cValues.forEach { free($0) } }
        let c: OpaquePointer? = cKeys.withUnsafeBufferPointer { k in
            cValues.withUnsafeBufferPointer { v in
                k.withMemoryRebound(to: UnsafePointer<CChar>?.self) { kk in
                    v.withMemoryRebound(to: UnsafePointer<CChar>?.self) { vv in
                        PQconnectdbParams(kk.baseAddress, vv.baseAddress, 1)
                    }
                }
            }
        }
        guard let c else { throw PQError(sqlState: "", message: "out of memory creating a PostgreSQL connection", connectionLost: true) }
        if PQstatus(c) != CONNECTION_OK {
            let message = String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(c)
            throw PQError(sqlState: "", message: message, connectionLost: true)
        }
        conn = c
        // Server notices (e.g. "relation already exists, skipping") would go to stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    deinit { PQfinish(conn) }

    var isAlive: Bool { PQstatus(conn) == CONNECTION_OK }

    /// Runs one or more statements without parameters; returns rows as text (NULL as nil).
    @discardableResult
    func exec(_ sql: String) throws(PQError) -> [[String?]] {
        let res = PQexec(conn, sql)
        return try consume(res)
    }

    /// Runs one statement with text parameters (`$1`, `$2`, …).
    @discardableResult
    func exec(_ sql: String, _ params: [String?]) throws(PQError) -> [[String?]] {
        let cParams: [UnsafeMutablePointer<CChar>?] = params.map { $0.map { strdup($0) } ?? nil }
        defer { cParams.forEach { free($0) } }
        let res = cParams.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: UnsafePointer<CChar>?.self) { pp in
                PQexecParams(conn, sql, Int32(params.count), nil, pp.baseAddress, nil, nil, 0)
            }
        }
        return try consume(res)
    }

    private func consume(_ res: OpaquePointer?) throws(PQError) -> [[String?]] {
        guard let res else { throw lastError() }
        defer { PQclear(res) }
        switch PQresultStatus(res) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return []
        case PGRES_TUPLES_OK:
            let rows = PQntuples(res), cols = PQnfields(res)
            return (0..<rows).map { r in
                (0..<cols).map { c in PQgetisnull(res, r, c) == 1 ? nil : String(cString: PQgetvalue(res, r, c)) }
            }
        default:
            throw error(from: res)
        }
    }

    /// Runs a `COPY … FROM STDIN` with all of `data`; returns the number of rows the server reports.
    @discardableResult
    func copyIn(_ sql: String, data: [UInt8]) throws(PQError) -> Int {
        try beginCopy(sql)
        do {
            try putCopyData(data)
        } catch {
            abortCopy("sluice: send failed")
            throw error
        }
        return try endCopy()
    }

    /// Starts a `COPY … FROM STDIN`; rows follow with `putCopyData` and the COPY ends with
    /// `endCopy` (or `abortCopy`). No other command may run in between.
    func beginCopy(_ sql: String) throws(PQError) {
        guard let res = PQexec(conn, sql) else { throw lastError() }
        defer { PQclear(res) }
        if PQresultStatus(res) != PGRES_COPY_IN { throw error(from: res) }
    }

    /// Sends COPY data. In blocking mode libpq flushes as its buffer fills, so the server parses
    /// and inserts these rows while the caller encodes the next ones.
    func putCopyData(_ data: [UInt8]) throws(PQError) {
        var failed = false
        data.withUnsafeBufferPointer { buf in
            var offset = 0
            let chunk = 1 << 18
            while offset < buf.count {
                let n = min(chunk, buf.count - offset)
                let ok = buf.baseAddress!.advanced(by: offset).withMemoryRebound(to: CChar.self, capacity: n) {
                    PQputCopyData(conn, $0, Int32(n))
                }
                if ok != 1 { failed = true; return }
                offset += n
            }
        }
        if failed { throw lastError() }
    }

    /// Ends the COPY and waits for the server's verdict on every row sent; returns the row count.
    @discardableResult
    func endCopy() throws(PQError) -> Int {
        var sendFailure: PQError?
        if PQputCopyEnd(conn, nil) != 1 { sendFailure = lastError() }
        return try drainCopyResults(sendFailure)
    }

    /// Abandons the COPY: the server discards its rows and reports an error, which is swallowed.
    func abortCopy(_ reason: String) {
        _ = PQputCopyEnd(conn, reason)
        _ = try? drainCopyResults(nil)
    }

    /// Reads results until NULL; the COPY's own result carries any server error.
    private func drainCopyResults(_ sendFailure: PQError?) throws(PQError) -> Int {
        var copyError: PQError?
        var count = 0
        while let r = PQgetResult(conn) {
            let s = PQresultStatus(r)
            if s == PGRES_COMMAND_OK {
                count = Int(String(cString: PQcmdTuples(r))) ?? 0
            } else if s == PGRES_COPY_IN {
                // The server still waits for data after a send failure: end it so the connection is usable.
                _ = PQputCopyEnd(conn, "sluice: send failed")
            } else if copyError == nil {
                copyError = error(from: r)
            }
            PQclear(r)
        }
        if let copyError { throw copyError }
        if let sendFailure { throw sendFailure }
        return count
    }

    private func error(from res: OpaquePointer) -> PQError {
        let state = PQresultErrorField(res, sluice_pg_diag_sqlstate()).map { String(cString: $0) } ?? ""
        // "primary message: detail" reads better in one log line than libpq's multi-line "ERROR:  …\nDETAIL:  …".
        var message = PQresultErrorField(res, sluice_pg_diag_primary()).map { String(cString: $0) } ?? ""
        if let detail = PQresultErrorField(res, sluice_pg_diag_detail()).map({ String(cString: $0) }), !detail.isEmpty { message += ": " + detail }
        if message.isEmpty { message = String(cString: PQresultErrorMessage(res)).trimmingCharacters(in: .whitespacesAndNewlines) }
        if message.isEmpty { message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines) }
        return PQError(sqlState: state, message: message, connectionLost: PQstatus(conn) != CONNECTION_OK || state.hasPrefix("08") || state == "57P01")
    }

    private func lastError() -> PQError {
        PQError(sqlState: "", message: String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines),
                connectionLost: PQstatus(conn) != CONNECTION_OK)
    }
}

/// SQL text helpers. Identifiers from pipeline files are always quoted with these, never spliced raw.
enum SQL {
    /// `"name"` with embedded quotes doubled: any string is a safe identifier this way.
    static func identifier(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// `"schema"."table"`.
    static func qualified(_ schema: String, _ table: String) -> String { identifier(schema) + "." + identifier(table) }

    /// `'text'` with embedded quotes doubled, for the few literals that cannot be parameters (DDL).
    static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
}
