internal import CLibPQ
import ConnectorKit
import CoreConnectors
import Foundation

/// An error from libpq or the server: SQLSTATE (when the server sent one) and its message.
public struct PQError: Error, Sendable, CustomStringConvertible {
    /// Five-character SQLSTATE, e.g. `23503` (foreign key violation); empty for client-side errors.
    public var sqlState: String
    public var message: String
    /// True when the connection is gone (server down, restarted, network): worth a reconnect.
    public var connectionLost: Bool
    /// True when the server refused the login (SQLSTATE class 28, or a password was required and
    /// none was given). Never decided from message text: libpq and the server translate it.
    public var loginRefused: Bool = false
    /// True when the server stayed silent longer than the connection's timeout.
    public var timedOut: Bool = false

    public var description: String { sqlState.isEmpty ? message : "\(message) (SQLSTATE \(sqlState))" }

    /// Class 23: integrity constraint violations (foreign key, unique, not null, check).
    public var isConstraintViolation: Bool { sqlState.hasPrefix("23") }
    /// Class 22: data exceptions (value out of range, invalid text) — also a per-row problem.
    public var isDataException: Bool { sqlState.hasPrefix("22") }
}

/// One libpq connection. Not thread-safe: owned by one actor running on its own thread
/// (`PostgresSink`). All unsafe code for libpq lives in this file.
///
/// The socket is non-blocking and every wait for the server is bounded by `ioTimeout`: libpq's
/// blocking calls have no timeout, so a stalled network or a hung server would otherwise hold a
/// run for ever. A wait that runs out counts as a lost connection.
package final class PQConnection {
    private let conn: OpaquePointer
    private let ioTimeout: Double

    /// Connects with a URL (`postgresql://…`) or a `key=value` string; `password` overrides the one
    /// in it (libpq also reads `~/.pgpass` and `PGPASSWORD` by itself).
    /// `applicationName` shows in `pg_stat_activity` (the sink names its pipeline there).
    package init(conninfo: String, password: String?, connectTimeout: Int, ioTimeout: Double = 300, applicationName: String = "sluice") throws(PQError) {
        var keys = ["dbname", "application_name"]
        var values = [conninfo, String(applicationName.utf8.prefix(63)) ?? "sluice"]
        if let password { keys.append("password"); values.append(password) }
        let cKeys = keys.map { strdup($0) } + [nil]
        let cValues = values.map { strdup($0) } + [nil]
        defer { cKeys.forEach { free($0) }; cValues.forEach { free($0) } }
        let c: OpaquePointer? = cKeys.withUnsafeBufferPointer { k in
            cValues.withUnsafeBufferPointer { v in
                k.withMemoryRebound(to: UnsafePointer<CChar>?.self) { kk in
                    v.withMemoryRebound(to: UnsafePointer<CChar>?.self) { vv in
                        PQconnectStartParams(kk.baseAddress, vv.baseAddress, 1)
                    }
                }
            }
        }
        guard let c else { throw PQError(sqlState: "", message: "out of memory creating a PostgreSQL connection", connectionLost: true) }
        // Verbose errors carry the SQLSTATE ("FATAL:  28P01: …"): libpq has no other way to tell
        // why a connection was refused, and its messages are translated.
        PQsetErrorVerbosity(c, PQERRORS_VERBOSE)
        if let failure = Self.poll(c, timeout: Double(connectTimeout)) {
            PQfinish(c)
            throw failure
        }
        PQsetErrorVerbosity(c, PQERRORS_DEFAULT)
        conn = c
        self.ioTimeout = ioTimeout
        // Server notices (e.g. "relation already exists, skipping") would go to stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        if PQsetnonblocking(conn, 1) != 0 { throw lastError() }
    }

    deinit { PQfinish(conn) }

    /// Drives a connection started with `PQconnectStartParams` to its end; nil when it is up.
    private static func poll(_ c: OpaquePointer, timeout: Double) -> PQError? {
        let deadline = Date().addingTimeInterval(max(1, timeout))
        var state = PGRES_POLLING_WRITING
        while PQstatus(c) != CONNECTION_BAD && state != PGRES_POLLING_OK && state != PGRES_POLLING_FAILED {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 {
                return PQError(sqlState: "", message: "timeout expired after \(Int(timeout)) s connecting to PostgreSQL", connectionLost: true)
            }
            var p = pollfd(fd: PQsocket(c), events: Int16(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), revents: 0)
            let ready = Glibc.poll(&p, 1, Int32(min(remaining, 1) * 1000))
            if ready < 0 && errno != EINTR { break }
            if ready == 0 { continue }
            state = PQconnectPoll(c)
        }
        if PQstatus(c) == CONNECTION_OK { return nil }
        let verbose = String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
        let code = sqlState(inVerbose: verbose)
        let refused = code.hasPrefix("28") || PQconnectionNeedsPassword(c) == 1
        return PQError(sqlState: code, message: code.isEmpty ? verbose : verbose.replacingOccurrences(of: code + ": ", with: ""),
                       connectionLost: true, loginRefused: refused)
    }

    /// The SQLSTATE in a verbose error, `SEVERITY:  XXXXX: message`: the first five code
    /// characters (digits and capitals, at least one digit, so not `FATAL`) between a space and a
    /// colon. The code is never translated; the words around it are.
    package static func sqlState(inVerbose text: String) -> String {
        let b = Array(text.utf8)
        func isCode(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) }
        var i = 0
        while i + 6 < b.count {
            let code = b[(i + 1)...(i + 5)]
            if b[i] == 0x20, b[i + 6] == UInt8(ascii: ":"), code.allSatisfy(isCode), code.contains(where: { (0x30...0x39).contains($0) }) {
                return String(decoding: code, as: UTF8.self)
            }
            i += 1
        }
        return ""
    }

    package var isAlive: Bool { PQstatus(conn) == CONNECTION_OK }

    // MARK: Waiting, bounded

    /// Waits until the socket is readable (and writable, if asked); throws when the server stays
    /// silent for `ioTimeout`.
    private func wait(writable: Bool) throws(PQError) {
        var p = pollfd(fd: PQsocket(conn), events: Int16(writable ? (POLLIN | POLLOUT) : POLLIN), revents: 0)
        while true {
            let ready = Glibc.poll(&p, 1, Int32(min(ioTimeout * 1000, Double(Int32.max))))
            if ready > 0 { return }
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 {
                throw PQError(sqlState: "", message: "no answer from the server for \(Int(ioTimeout)) s (timeout)", connectionLost: true, timedOut: true)
            }
            throw PQError(sqlState: "", message: "poll failed: \(String(cString: strerror(errno)))", connectionLost: true)
        }
    }

    /// Sends everything libpq has queued, waiting (bounded) while the socket is full.
    private func flushOutput() throws(PQError) {
        while true {
            let r = PQflush(conn)
            if r == 0 { return }
            if r < 0 { throw lastError() }
            try wait(writable: true)
            // Reading what the server sent meanwhile keeps it from blocking on its own output.
            if PQconsumeInput(conn) == 0 { throw lastError() }
        }
    }

    /// The next result of the current command, or nil when it has none left.
    private func nextResult() throws(PQError) -> OpaquePointer? {
        while PQisBusy(conn) == 1 {
            try wait(writable: false)
            if PQconsumeInput(conn) == 0 { throw lastError() }
        }
        return PQgetResult(conn)
    }

    /// Reads every result of the command just sent; returns the rows of the last, throws the
    /// first error (after reading them all, so the connection is ready for the next command).
    private func results() throws(PQError) -> [[String?]] {
        var rows: [[String?]] = []
        var failure: PQError?
        while let res = try nextResult() {
            defer { PQclear(res) }
            switch PQresultStatus(res) {
            case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                rows = []
            case PGRES_TUPLES_OK:
                let n = PQntuples(res), cols = PQnfields(res)
                rows = (0..<n).map { r in
                    (0..<cols).map { c in PQgetisnull(res, r, c) == 1 ? nil : String(cString: PQgetvalue(res, r, c)) }
                }
            case PGRES_COPY_IN:
                // Only `beginCopy` expects this; anywhere else end it so the connection stays usable.
                _ = PQputCopyEnd(conn, "sluice: unexpected COPY")
                try flushOutput()
            default:
                if failure == nil { failure = error(from: res) }
            }
        }
        if let failure { throw failure }
        if !isAlive { throw lastError() }
        return rows
    }

    // MARK: Commands

    /// Runs one or more statements without parameters; returns rows as text (NULL as nil).
    @discardableResult
    package func exec(_ sql: String) throws(PQError) -> [[String?]] {
        if PQsendQuery(conn, sql) != 1 { throw lastError() }
        try flushOutput()
        return try results()
    }

    /// Runs one statement with text parameters (`$1`, `$2`, …).
    @discardableResult
    package func exec(_ sql: String, _ params: [String?]) throws(PQError) -> [[String?]] {
        let cParams: [UnsafeMutablePointer<CChar>?] = params.map { $0.map { strdup($0) } ?? nil }
        defer { cParams.forEach { free($0) } }
        let sent = cParams.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: UnsafePointer<CChar>?.self) { pp in
                PQsendQueryParams(conn, sql, Int32(params.count), nil, pp.baseAddress, nil, nil, 0)
            }
        }
        if sent != 1 { throw lastError() }
        try flushOutput()
        return try results()
    }

    /// Runs a `COPY … FROM STDIN` with all of `data`; returns the number of rows the server reports.
    @discardableResult
    package func copyIn(_ sql: String, data: UnsafeBufferPointer<UInt8>) throws(PQError) -> Int {
        try beginCopy(sql)
        do {
            try putCopyData(data)
        } catch {
            abortCopy("sluice: send failed")
            throw error
        }
        return try endCopy()
    }

    /// Runs a `COPY … TO STDOUT`, handing each piece of data to `receive` as it arrives (libpq
    /// gives one data row per piece; the binary format's header comes with the first). Every wait
    /// is bounded by `ioTimeout`. Returns the number of rows the server reports.
    @discardableResult
    package func copyOut(_ sql: String, receive: (UnsafeRawBufferPointer) -> Void) throws(PQError) -> Int {
        if PQsendQuery(conn, sql) != 1 { throw lastError() }
        try flushOutput()
        guard let first = try nextResult() else { throw lastError() }
        if PQresultStatus(first) != PGRES_COPY_OUT {
            let failure = error(from: first)
            PQclear(first)
            while let more = try nextResult() { PQclear(more) }
            throw failure
        }
        PQclear(first)
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(conn, &buffer, 1)
            if n > 0, let buffer {
                receive(UnsafeRawBufferPointer(start: buffer, count: Int(n)))
                PQfreemem(buffer)
            } else if n == 0 {
                // Nothing complete yet: wait for the socket, bounded.
                try wait(writable: false)
                if PQconsumeInput(conn) == 0 { throw lastError() }
            } else if n == -1 {
                break
            } else {
                throw lastError()
            }
        }
        var count = 0
        var failure: PQError?
        while let r = try nextResult() {
            if PQresultStatus(r) == PGRES_COMMAND_OK {
                count = Int(String(cString: PQcmdTuples(r))) ?? 0
            } else if failure == nil {
                failure = error(from: r)
            }
            PQclear(r)
        }
        if let failure { throw failure }
        if !isAlive { throw lastError() }
        return count
    }

    /// Starts a `COPY … FROM STDIN`; rows follow with `putCopyData` and the COPY ends with
    /// `endCopy` (or `abortCopy`). No other command may run in between.
    package func beginCopy(_ sql: String) throws(PQError) {
        if PQsendQuery(conn, sql) != 1 { throw lastError() }
        try flushOutput()
        guard let res = try nextResult() else { throw lastError() }
        defer { PQclear(res) }
        if PQresultStatus(res) != PGRES_COPY_IN {
            let failure = error(from: res)
            while let more = try nextResult() { PQclear(more) }
            throw failure
        }
    }

    /// Sends COPY data. libpq queues it and the socket takes it as fast as the server reads, so
    /// the server parses and inserts these rows while the caller encodes the next ones; a server
    /// that stops reading for `ioTimeout` ends the connection.
    package func putCopyData(_ data: [UInt8]) throws(PQError) {
        try data.withUnsafeBufferPointer { (buf) throws(PQError) in try putCopyData(buf) }
    }

    package func putCopyData(_ buf: UnsafeBufferPointer<UInt8>) throws(PQError) {
        var offset = 0
        let chunk = 1 << 18
        while offset < buf.count {
            let n = min(chunk, buf.count - offset)
            let r = buf.baseAddress!.advanced(by: offset).withMemoryRebound(to: CChar.self, capacity: n) {
                PQputCopyData(conn, $0, Int32(n))
            }
            if r < 0 { throw lastError() }
            if r == 0 {
                // libpq's buffer is full: wait for the socket to take some, then retry.
                try wait(writable: true)
                if PQconsumeInput(conn) == 0 { throw lastError() }
                _ = PQflush(conn)
                continue
            }
            offset += n
            try flushOutput()
        }
    }

    /// Ends the COPY and waits for the server's verdict on every row sent; returns the row count.
    @discardableResult
    package func endCopy() throws(PQError) -> Int {
        try finishCopy(reason: nil)
    }

    /// Abandons the COPY: the server discards its rows and reports an error, which is swallowed.
    package func abortCopy(_ reason: String) {
        _ = try? finishCopy(reason: reason)
    }

    /// Ends the COPY (with an error `reason`, or normally) and reads results until none is left;
    /// the COPY's own result carries any server error.
    private func finishCopy(reason: String?) throws(PQError) -> Int {
        while true {
            let r = PQputCopyEnd(conn, reason)
            if r == 1 { break }
            if r < 0 { throw lastError() }
            try wait(writable: true)
            if PQconsumeInput(conn) == 0 { throw lastError() }
        }
        try flushOutput()
        var copyError: PQError?
        var count = 0
        while let r = try nextResult() {
            let s = PQresultStatus(r)
            if s == PGRES_COMMAND_OK {
                count = Int(String(cString: PQcmdTuples(r))) ?? 0
            } else if s == PGRES_COPY_IN {
                _ = PQputCopyEnd(conn, "sluice: send failed")
                try flushOutput()
            } else if copyError == nil {
                copyError = error(from: r)
            }
            PQclear(r)
        }
        if let copyError { throw copyError }
        if !isAlive { throw lastError() }
        return count
    }

    private func error(from res: OpaquePointer) -> PQError {
        let state = PQresultErrorField(res, sluice_pg_diag_sqlstate()).map { String(cString: $0) } ?? ""
        // "primary message: detail" reads better in one log line than libpq's multi-line "ERROR:  …\nDETAIL:  …".
        var message = PQresultErrorField(res, sluice_pg_diag_primary()).map { String(cString: $0) } ?? ""
        if let detail = PQresultErrorField(res, sluice_pg_diag_detail()).map({ String(cString: $0) }), !detail.isEmpty { message += ": " + detail }
        if message.isEmpty { message = String(cString: PQresultErrorMessage(res)).trimmingCharacters(in: .whitespacesAndNewlines) }
        if message.isEmpty { message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines) }
        // Class 08 (connection exception) and 57P01–57P03 (the server is shutting down or was
        // restarted; a terminated backend reports 57P01) end the connection.
        return PQError(sqlState: state, message: message,
                       connectionLost: PQstatus(conn) != CONNECTION_OK || state.hasPrefix("08") || state.hasPrefix("57P"))
    }

    /// libpq's last message, on one line (it wraps some with a newline and a tab).
    private func lastError() -> PQError {
        let text = String(cString: PQerrorMessage(conn)).split(whereSeparator: { $0 == "\n" || $0 == "\t" })
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
        return PQError(sqlState: "", message: text, connectionLost: PQstatus(conn) != CONNECTION_OK)
    }
}

/// SQL text helpers. Identifiers from pipeline files are always quoted with these, never spliced raw.
package enum SQL {
    /// What `CREATE … IF NOT EXISTS` reports when another session creates the same object at the
    /// same moment: duplicate_table, a unique violation in the catalog, the row type already
    /// existing (duplicate_object), depending on where the two meet; a schema as duplicate_schema.
    /// Each means the object now exists.
    package static let concurrentCreationStates: Set<String> = ["42P07", "42P06", "23505", "42710"]

    /// `"name"` with embedded quotes doubled: any string is a safe identifier this way.
    package static func identifier(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// `"schema"."table"`.
    package static func qualified(_ schema: String, _ table: String) -> String { identifier(schema) + "." + identifier(table) }

    /// `'text'` with embedded quotes doubled, for the few literals that cannot be parameters (DDL).
    package static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
}
