import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A blocking GET for the daemon's endpoints (the tests are synchronous).
enum HTTP {
    struct Reply { var status: Int; var body: String; var contentType: String }
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func get(_ url: String, timeout: Double = 10) throws -> Reply {
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = timeout
        URLSession.shared.dataTask(with: request) { data, response, error in
            let http = response as? HTTPURLResponse
            box.set(error.map { .failure(Failure(description: "\(url): \($0)")) }
                ?? .success(Reply(status: http?.statusCode ?? 0, body: String(decoding: data ?? Data(), as: UTF8.self),
                                  contentType: http?.value(forHTTPHeaderField: "Content-Type") ?? "")))
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + timeout + 5) == .success else { throw Failure(description: "\(url): no answer") }
        return try box.get()
    }

    static func json(_ url: String) throws -> (status: Int, value: Any) {
        let r = try get(url)
        return (r.status, try JSONSerialization.jsonObject(with: Data(r.body.utf8)))
    }

    /// The address a test daemon listens on (it writes it once its server is up).
    static func daemonAddress(stateDirectory: String, process: Process, timeout: Double = 30) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && process.isRunning {
            if let text = try? String(contentsOfFile: stateDirectory + "/.daemon/http-address", encoding: .utf8),
               !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                return "http://" + text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw Failure(description: "the daemon wrote no HTTP address in \(Int(timeout)) s")
    }

    private final class Box: @unchecked Sendable {
        // @unchecked: written once by the session's callback before the semaphore is signalled,
        // read only after waiting on it.
        private var result: Result<Reply, Failure>?
        func set(_ r: Result<Reply, Failure>) { result = r }
        func get() throws -> Reply { try result!.get() }
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
        let out = Pipe(), inPipe = Pipe()
        p.standardOutput = out
        p.standardError = out
        if input != nil { p.standardInput = inPipe }
        try p.run()
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try inPipe.fileHandleForWriting.close()
        }
        let killer = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        killer.cancel()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
