import ConnectorKit
import Foundation
import TestSupport

/// A blocking GET for the daemon's endpoints (the tests are synchronous).
enum HTTP {
    struct Reply { var status: Int; var body: String; var contentType: String }
    struct Failure: Error, CustomStringConvertible { var description: String }

    /// One request on its own connection (`Connection: close`), over a plain socket: nothing is
    /// cached or reused between calls, so each answer is the daemon's answer at that moment.
    static func get(_ url: String, timeout: Double = 10) throws -> Reply {
        guard let u = URL(string: url), let host = u.host, let port = u.port else { throw Failure(description: "\(url): not http://host:port/…") }
        let path = u.path.isEmpty ? "/" : u.path + (u.query.map { "?" + $0 } ?? "")
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "\(url): socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw Failure(description: "\(url): not an IPv4 address") }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "\(url): connect: \(String(cString: strerror(errno)))") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            throw Failure(description: "\(url): send: \(String(cString: strerror(errno)))")
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw Failure(description: "\(url): no answer (\(String(cString: strerror(errno))))") }
            response += chunk[0..<n]
        }
        return try parse(response, url: url)
    }

    /// Status line, headers, and a body sent whole, with Content-Length or chunked.
    static func parse(_ response: [UInt8], url: String) throws -> Reply {
        guard let split = response.indices.first(where: { response[$0...].starts(with: [13, 10, 13, 10]) }) else {
            throw Failure(description: "\(url): an incomplete answer (\(response.count) bytes)")
        }
        let head = String(decoding: response[..<split], as: UTF8.self).components(separatedBy: "\r\n")
        let statusWords = head[0].split(separator: " ")
        guard statusWords.count >= 2, let status = Int(statusWords[1]) else { throw Failure(description: "\(url): status line \(head[0])") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(response[(split + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            var decoded: [UInt8] = []
            var i = 0
            while let lineEnd = body[i...].indices.first(where: { body[$0...].starts(with: [13, 10]) }),
                  let size = Int(String(decoding: body[i..<lineEnd], as: UTF8.self).split(separator: ";")[0], radix: 16), size > 0 {
                decoded += body[(lineEnd + 2)..<(lineEnd + 2 + size)]
                i = lineEnd + 2 + size + 2
            }
            body = decoded
        }
        return Reply(status: status, body: String(decoding: body, as: UTF8.self), contentType: headers["content-type"] ?? "")
    }

    static func json(_ url: String) throws -> (status: Int, value: Any) {
        let r = try get(url)
        return (r.status, try JSONSerialization.jsonObject(with: Data(r.body.utf8)))
    }

    /// The address a test daemon listens on (it writes it once its server is up).
    /// The daemon's status page address, once it has written it. On failure the message says
    /// whether the daemon ended (and with what status) or was still starting, with the tail of
    /// its standard error when `output` collects it (the daemon is then killed to read it).
    static func daemonAddress(stateDirectory: String, process: Process, output: Sluice.Collected? = nil,
                              timeout: Double = TestScale.divisor > 1 ? 60 : 30) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && process.isAlive {
            if let text = try? String(contentsOfFile: stateDirectory + "/.daemon/http-address", encoding: .utf8),
               !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                return "http://" + text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        var what = process.isAlive
            ? "the daemon wrote no HTTP address in \(Int(timeout)) s (process state \(process.procState))"
            : "the daemon ended (status \(process.endedStatus.map(String.init) ?? "?")) before it wrote its HTTP address"
        if let output {
            if process.isAlive { kill(process.processIdentifier, SIGKILL) }
            process.waitForEnd()
            if output.group.wait(timeout: .now() + 10) == .success {
                what += "; its standard error ended with:\n" + String(decoding: output.err.suffix(3000), as: UTF8.self)
            }
        }
        throw Failure(description: what)
    }
}

/// Tools the daemon tests check output with: promtool (Debian's prometheus package) and
/// Chromium. CI installs both (scripts/setup.sh), so there they are required.
enum ExternalTool {
    static func path(_ name: String) -> String? {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") { return "\(dir)/\(name)" }
        return nil
    }

    /// Runs a tool with `input` on stdin; status and stdout+stderr.
    static func run(_ path: String, _ args: [String], input: String? = nil, timeout: Double = 120) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = ProcessLaunch.pipe(), inPipe = ProcessLaunch.pipe()
        p.standardOutput = out
        p.standardError = out
        if input != nil { p.standardInput = inPipe }
        try ProcessLaunch.run(p)
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try inPipe.fileHandleForWriting.close()
        }
        let killer = DispatchWorkItem { if p.isAlive { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let status = p.waitForEnd()
        killer.cancel()
        return (status, String(decoding: data, as: UTF8.self))
    }
}
