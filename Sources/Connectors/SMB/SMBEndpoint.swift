import ConnectorKit
import CoreConnectors
import Foundation

/// Where an `smb` source reads: `smb://host[:port]/share[/dir…]`. Never holds credentials.
public struct SMBEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int?
    public var share: String
    /// The folder inside the share, `/`-separated, without leading or trailing `/` ("" for the share root).
    public var directory: String

    /// Parses the pipeline's `url`; the message says what is wrong.
    public init(url: String) throws(ConfigIssue) {
        func bad(_ why: String) -> ConfigIssue { ConfigIssue(key: "url", message: "\(why) (expected smb://host[:port]/share[/folder])") }
        guard url.lowercased().hasPrefix("smb://") else { throw bad("must start with smb://") }
        let rest = url.dropFirst("smb://".count)
        if rest.contains("@") { throw bad("must not hold a user or password; use username, password = \"${ENV_VAR}\" or password_file") }
        if rest.contains("\\") { throw bad("uses '\\'; write the path with '/'") }
        if rest.contains("?") || rest.contains("#") { throw bad("has a query or fragment") }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 2 else { throw bad("names no share") }
        var hostPart = parts[0]
        if let colon = hostPart.lastIndex(of: ":"), !hostPart.hasPrefix("[") || hostPart[..<colon].hasSuffix("]") {
            guard let p = Int(hostPart[hostPart.index(after: colon)...]), (1...65535).contains(p) else { throw bad("has an invalid port") }
            port = p
            hostPart = String(hostPart[..<colon])
        }
        guard !hostPart.isEmpty else { throw bad("names no host") }
        host = hostPart
        share = parts[1]
        let dirParts = parts.dropFirst(2)
        if dirParts.contains(where: { $0 == ".." || $0 == "." }) { throw bad("has '.' or '..' in its path") }
        directory = dirParts.joined(separator: "/")
    }

    /// `smb://host[:port]/share/dir`, for logs and messages.
    public var description: String {
        "smb://\(host)\(port.map { ":\($0)" } ?? "")/\(share)\(directory.isEmpty ? "" : "/" + directory)"
    }

    /// `host[:port]/share`, naming the share in errors.
    public var shareDescription: String { "smb://\(host)\(port.map { ":\($0)" } ?? "")/\(share)" }

    /// The libsmbclient URL of `relative` (below `directory`), every path byte outside the URL's
    /// unreserved set percent-encoded: names with spaces, `#`, `%` or non-ASCII letters survive.
    func url(_ relative: String) -> String {
        var path = [share]
        if !directory.isEmpty { path += directory.split(separator: "/").map(String.init) }
        if !relative.isEmpty { path += relative.split(separator: "/").map(String.init) }
        return "smb://\(host)\(port.map { ":\($0)" } ?? "")/" + path.map(Self.percentEncoded).joined(separator: "/")
    }

    /// RFC 3986's unreserved characters; everything else in a name is percent-encoded.
    private static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    static func percentEncoded(_ component: String) -> String {
        component.addingPercentEncoding(withAllowedCharacters: unreserved) ?? component
    }
}

/// The SMB dialects a connection may negotiate. The default never includes SMB1.
public struct SMBProtocolRange: Sendable, Hashable, CustomStringConvertible {
    /// Dialect names as libsmbclient spells them, oldest first.
    public static let dialects = ["NT1", "SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"]
    public static let aliases = ["SMB1": "NT1", "SMB2": "SMB2_02", "SMB3": "SMB3_00"]
    public static let modern = SMBProtocolRange(min: "SMB2_02", max: "SMB3_11")

    public var min: String
    public var max: String

    public init(min: String, max: String) {
        self.min = min
        self.max = max
    }

    /// `"NT1"` (SMB1 for Windows XP, and anything newer the server offers), or `"MIN:MAX"`.
    public init(setting: String) throws(ConfigIssue) {
        func dialect(_ s: Substring) throws(ConfigIssue) -> String {
            let name = String(s).uppercased()
            let canonical = Self.aliases[name] ?? name
            guard Self.dialects.contains(canonical) else {
                throw ConfigIssue(key: "protocols", message: "unknown SMB dialect '\(s)'; use NT1 (SMB1, Windows XP), SMB2, SMB3 or MIN:MAX such as \"NT1:SMB3\"")
            }
            return canonical
        }
        let parts = setting.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            // One dialect names the oldest one allowed: XP machines and modern ones on one setting.
            min = try dialect(parts[0])
            max = "SMB3_11"
        case 2:
            min = try dialect(parts[0])
            max = try dialect(parts[1])
        default:
            throw ConfigIssue(key: "protocols", message: "expected one dialect or MIN:MAX, e.g. \"NT1\" or \"NT1:SMB3\"")
        }
        guard Self.dialects.firstIndex(of: min)! <= Self.dialects.firstIndex(of: max)! else {
            throw ConfigIssue(key: "protocols", message: "the oldest dialect \(min) is newer than the newest \(max)")
        }
    }

    public var allowsSMB1: Bool { min == "NT1" }
    public var description: String { "\(min)–\(max)" }
}
