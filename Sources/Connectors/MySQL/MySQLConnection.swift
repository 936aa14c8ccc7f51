internal import CMariaDB
import ConnectorKit
import Foundation

/// An error from libmariadb or the server: its error number, SQLSTATE and message.
public struct MySQLError: Error, Sendable, CustomStringConvertible {
    public var code: UInt32
    public var sqlState: String
    public var message: String

    public var description: String { "\(message) (error \(code), SQLSTATE \(sqlState))" }

    /// The client lost (or never had) the server: connection refused, gone, lost, timed out.
    public var connectionLost: Bool { (2000..<3000).contains(code) && code != 2019 && code != 2027 }
    /// Credentials refused (never retried in a storm).
    public var loginRefused: Bool { code == 1045 || code == 1698 }
    /// The server refused one row or some rows of a statement: the statement was undone, the
    /// transaction goes on (InnoDB), and bisecting finds the rows. Keys, foreign keys, checks,
    /// values out of range or too long, bad dates.
    public var refusesRows: Bool {
        [1062, 1451, 1452, 1048, 1263, 1264, 1265, 1292, 1366, 1406, 1416, 3819, 4025].contains(code)
    }
    /// The transaction was rolled back by the server (deadlock, lock wait): the attempt fails.
    public var transactionRolledBack: Bool { code == 1213 || code == 1205 }
}

/// One libmariadb connection (`MYSQL *`), the only place that calls the library. Blocking: its
/// owner runs it on a thread of its own.
final class MySQLConnection {
    fileprivate let handle: UnsafeMutablePointer<MYSQL>

    /// Connects with TCP to `host:port`. `timeout` bounds connecting and every read and write
    /// (libmariadb's own timeouts), so a stalled server or network fails a call instead of
    /// holding it for ever.
    init(host: String, port: Int, user: String, password: String?, database: String, timeout: Int) throws(MySQLError) {
        guard let h = mysql_init(nil) else { throw MySQLError(code: 2008, sqlState: "HY000", message: "out of memory") }
        handle = h
        var seconds = UInt32(max(1, timeout))
        mysql_options(h, MYSQL_OPT_CONNECT_TIMEOUT, &seconds)
        mysql_options(h, MYSQL_OPT_READ_TIMEOUT, &seconds)
        mysql_options(h, MYSQL_OPT_WRITE_TIMEOUT, &seconds)
        var tcp = UInt32(MYSQL_PROTOCOL_TCP.rawValue)
        mysql_options(h, MYSQL_OPT_PROTOCOL, &tcp)
        mysql_options(h, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        var enable: UInt32 = 1
        mysql_options(h, MYSQL_OPT_LOCAL_INFILE, &enable)
        var noReconnect: CChar = 0
        mysql_options(h, MYSQL_OPT_RECONNECT, &noReconnect)
        if mysql_real_connect(h, host, user, password, database, UInt32(port), nil, 0) == nil {
            // deinit closes the handle: every stored property is set, so it runs on this throw too.
            throw Self.error(h)
        }
    }

    deinit { mysql_close(handle) }

    static func error(_ h: UnsafeMutablePointer<MYSQL>) -> MySQLError {
        MySQLError(code: mysql_errno(h), sqlState: String(cString: mysql_sqlstate(h)), message: String(cString: mysql_error(h)))
    }

    /// Runs a statement and returns its rows as text (nil for SQL NULL); none for statements
    /// without a result.
    @discardableResult
    func query(_ sql: String) throws(MySQLError) -> [[String?]] {
        let status = sql.utf8CString.withUnsafeBufferPointer { mysql_real_query(handle, $0.baseAddress, UInt(sql.utf8.count)) }
        if status != 0 { throw Self.error(handle) }
        guard let result = mysql_store_result(handle) else {
            if mysql_field_count(handle) != 0 { throw Self.error(handle) }
            return []
        }
        defer { mysql_free_result(result) }
        let columns = Int(mysql_num_fields(result))
        var rows: [[String?]] = []
        while let row = mysql_fetch_row(result) {
            let lengths = mysql_fetch_lengths(result)!
            rows.append((0..<columns).map { i in
                guard let p = row[i] else { return nil }
                return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(lengths[i])), as: UTF8.self)
            })
        }
        return rows
    }

    /// Rows changed by the last statement.
    var affectedRows: UInt64 { mysql_affected_rows(handle) }

    func setAutocommit(_ on: Bool) throws(MySQLError) {
        if mysql_autocommit(handle, on ? 1 : 0) != 0 { throw Self.error(handle) }
    }

    func commit() throws(MySQLError) {
        if mysql_commit(handle) != 0 { throw Self.error(handle) }
    }

    func rollback() throws(MySQLError) {
        if mysql_rollback(handle) != 0 { throw Self.error(handle) }
    }

    /// Appends `text` as a quoted SQL string literal, escaped by the library for this
    /// connection's character set.
    func appendLiteral(_ text: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "'"))
        guard text.count > 0 else { out.append(UInt8(ascii: "'")); return }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: text.count * 2 + 1))
        let written = out.withUnsafeMutableBufferPointer { buffer in
            text.withMemoryRebound(to: CChar.self) { from in
                mysql_real_escape_string(handle, UnsafeMutableRawPointer(buffer.baseAddress! + start).assumingMemoryBound(to: CChar.self),
                                         from.baseAddress!, UInt(text.count))
            }
        }
        out.removeLast(out.count - start - Int(written))
        out.append(UInt8(ascii: "'"))
    }

    /// Runs a statement held as bytes (a multi-row INSERT built by the sink).
    func execute(_ sql: [UInt8]) throws(MySQLError) {
        let status = sql.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { mysql_real_query(handle, $0.baseAddress, UInt(p.count)) }
        }
        if status != 0 { throw Self.error(handle) }
        if let result = mysql_store_result(handle) { mysql_free_result(result) }
    }
}

extension MySQLConnection {
    /// Runs `LOAD DATA LOCAL INFILE` with the file's bytes served from memory: libmariadb asks
    /// the handler below for them instead of opening a file. Returns (rows affected, warnings).
    func loadData(_ statement: String, bytes: [UInt8]) throws(MySQLError) -> (rows: UInt64, warnings: UInt32) {
        let feed = InfileFeed(bytes)
        let userdata = Unmanaged.passUnretained(feed).toOpaque()
        mysql_set_local_infile_handler(handle, { state, _, userdata in
            state?.pointee = userdata
            return 0
        }, { state, buffer, length in
            let feed = Unmanaged<InfileFeed>.fromOpaque(state!).takeUnretainedValue()
            let n = min(Int(length), feed.bytes.count - feed.offset)
            if n > 0 {
                feed.bytes.withUnsafeBytes { UnsafeMutableRawPointer(buffer!).copyMemory(from: $0.baseAddress! + feed.offset, byteCount: n) }
                feed.offset += n
            }
            return Int32(n)
        }, { _ in }, { _, _, _ in 0 }, userdata)
        defer { mysql_set_local_infile_default(handle) }
        let result = withExtendedLifetime(feed) { Result { () throws(MySQLError) in try query(statement) } }
        try result.get()
        return (mysql_affected_rows(handle), mysql_warning_count(handle))
    }
}

/// The bytes a LOAD DATA LOCAL reads, and how far it has read.
private final class InfileFeed {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

/// SQL text for MySQL and MariaDB.
enum MySQLSQL {
    /// A backquoted identifier (backquotes doubled).
    static func identifier(_ name: String) -> String { "`" + name.replacingOccurrences(of: "`", with: "``") + "`" }
}
