import ConnectorKit
import CoreConnectors

/// Where an `sftp` source reads: `sftp://user@host[:port]/absolute/dir` (`/~/dir` for the user's
/// home). Never holds a password.
public struct SFTPEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var user: String
    public var host: String
    public var port: Int
    /// Absolute on the server, or relative to the home folder when the URL starts with `/~/`;
    /// no trailing `/`.
    public var directory: String

    public init(url: String, username: String?) throws(ConfigIssue) {
        func bad(_ why: String) -> ConfigIssue { ConfigIssue(key: "url", message: "\(why) (expected sftp://user@host[:port]/folder)") }
        guard url.lowercased().hasPrefix("sftp://") else { throw bad("must start with sftp://") }
        let rest = url.dropFirst("sftp://".count)
        guard let slash = rest.firstIndex(of: "/") else { throw bad("names no folder") }
        var authority = String(rest[..<slash])
        var path = String(rest[slash...])
        if let at = authority.lastIndex(of: "@") {
            let u = String(authority[..<at])
            if u.contains(":") { throw bad("must not hold a password; use password = \"${ENV_VAR}\" or a key") }
            user = u
            authority = String(authority[authority.index(after: at)...])
        } else if let username, !username.isEmpty {
            user = username
        } else {
            throw bad("names no user; write sftp://user@host/… or set username")
        }
        if let username, !username.isEmpty, username != user { throw ConfigIssue(key: "username", message: "differs from the user in url ('\(user)')") }
        port = 22
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else { throw bad("has an invalid port") }
            port = p
            authority = String(authority[..<colon])
        }
        if authority.hasPrefix("[") && authority.hasSuffix("]") { authority = String(authority.dropFirst().dropLast()) }
        guard !authority.isEmpty, !user.isEmpty else { throw bad("names no host") }
        host = authority
        if path.hasPrefix("/~/") || path == "/~" { path = String(path.dropFirst(path == "/~" ? 2 : 3)) }
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        if path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) { throw bad("has '.' or '..' in its path") }
        directory = path
    }

    /// The server path of `relative` (below `directory`).
    func path(_ relative: String) -> String {
        if relative.isEmpty { return directory.isEmpty ? "." : directory }
        if directory.isEmpty { return relative }
        return directory == "/" ? "/" + relative : directory + "/" + relative
    }

    /// The host as known_hosts names it: `host`, or `[host]:port` off port 22.
    var knownHostsName: String { port == 22 ? host : "[\(host)]:\(port)" }

    public var description: String {
        "sftp://\(user)@\(host.contains(":") ? "[\(host)]" : host)\(port == 22 ? "" : ":\(port)")\(directory.hasPrefix("/") ? "" : "/~/")\(directory)"
    }
}
