import Foundation
import Glibc

/// plc.py (pymodbus) on a free port of 127.0.0.1, for the tests: a real Modbus/TCP server that
/// nobody on the Sluice team wrote. Values are written with pymodbus's own client and encoders,
/// so what Sluice reads back is checked against an independent implementation.
final class PLCStandIn {
    let port: UInt16
    let process: Process
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The Python with pymodbus: $SLUICE_TEST_PYTHON (test.sh sets it from scripts/py-env.sh).
    static var python: String? {
        if let p = ProcessInfo.processInfo.environment["SLUICE_TEST_PYTHON"], !p.isEmpty { return p }
        let local = packageRoot + "/../../.build/pyenv/bin/python3"
        return FileManager.default.isExecutableFile(atPath: local) ? local : nil
    }

    static var available: Bool { python != nil }

    init(simulate: Bool = false) throws {
        port = try Self.freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python!)
        process.arguments = [Self.packageRoot + "/plc.py", "\(port)"] + (simulate ? ["--simulate"] : [])
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        // Wait for its "listening" line.
        let line = out.fileHandleForReading.readLine()
        guard line.hasPrefix("listening") else {
            process.terminate()
            throw PLCError(message: "plc.py did not start: \(line)")
        }
    }

    var address: String { "127.0.0.1:\(port)" }

    /// Writes holding registers from `start`: each value encoded by pymodbus as its type
    /// (INT16, UINT16, INT32, UINT32, FLOAT32) in `wordOrder`.
    func write(start: Int, _ values: [(Double, String)], wordOrder: String = "big") throws {
        let encoded = values.map { "client.convert_to_registers(\($0.1 == "FLOAT32" ? "\($0.0)" : "\(Int64($0.0))"), client.DATATYPE.\($0.1), word_order=\"\(wordOrder)\")" }
        try python("""
            from pymodbus.client import ModbusTcpClient
            client = ModbusTcpClient("127.0.0.1", port=\(port))
            assert client.connect()
            words = []
            for w in [\(encoded.joined(separator: ", "))]: words += w
            r = client.write_registers(\(start), words, device_id=1)
            assert not r.isError(), r
            """)
    }

    func python(_ script: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.python!)
        p.arguments = ["-c", script]
        let err = Pipe()
        p.standardError = err
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw PLCError(message: "pymodbus client failed: \(text)") }
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers — a hung PLC.
    func freeze() { kill(process.processIdentifier, SIGSTOP) }
    func thaw() { kill(process.processIdentifier, SIGCONT) }

    /// SIGKILL: pymodbus handles SIGTERM with a shutdown that can wait on open connections.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { if process.isRunning { stop() } }

    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw PLCError(message: "no free port") }
        return UInt16(bigEndian: addr.sin_port)
    }
}

struct PLCError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

extension FileHandle {
    /// One line, read byte by byte (the rest stays in the pipe).
    func readLine() -> String {
        var bytes: [UInt8] = []
        while let d = try? read(upToCount: 1), let b = d.first, b != 10 { bytes.append(b) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
