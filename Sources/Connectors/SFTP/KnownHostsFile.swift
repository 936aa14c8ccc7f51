import ConnectorKit
import CoreConnectors
import Foundation

/// What Sluice needs from an OpenSSH known_hosts file before connecting: which host key types to
/// ask the server for, and how to record a new key. The key comparison itself is libssh2's
/// (`libssh2_knownhost_checkp`, in `SSHSession`), which also understands hashed entries.
struct KnownHostsFile {
    static let supportedTypes = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"]

    let path: String
    /// Key types of the entries naming this host in plain text, in file order.
    private(set) var typesForHost: [String] = []
    /// Key types of hashed entries (`|1|…`), which may or may not be this host.
    private(set) var typesOfHashedEntries: [String] = []
    let exists: Bool

    init(path: String, hostName: String, host: String) {
        self.path = path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            exists = FileManager.default.fileExists(atPath: path)
            return
        }
        exists = true
        for line in text.split(whereSeparator: \.isNewline) {
            var fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if fields.first?.hasPrefix("#") ?? true { continue }
            if fields[0] == "@revoked" || fields[0] == "@cert-authority" { continue }
            guard fields.count >= 3 else { continue }
            let patterns = fields.removeFirst()
            let type = fields[0]
            guard Self.supportedTypes.contains(type) else { continue }
            if patterns.hasPrefix("|1|") {
                if !typesOfHashedEntries.contains(type) { typesOfHashedEntries.append(type) }
            } else if patterns.split(separator: ",").contains(where: { $0 == hostName || $0 == host }) {
                if !typesForHost.contains(type) { typesForHost.append(type) }
            }
        }
    }

    /// Host key types to try, one handshake each, until one is recorded for this host: libssh2
    /// compares only the type it negotiated, so a host known by its ed25519 key alone must be asked
    /// for ed25519. Last, every type (ed25519 first) to see the key of an unknown host.
    var attempts: [String] {
        var list = typesForHost
        for t in typesOfHashedEntries where !list.contains(t) { list.append(t) }
        let all = Self.supportedTypes.joined(separator: ",")
        return list + [all]
    }

    /// The line that records `blob` for the host, as `ssh-keyscan` would print it.
    static func line(hostName: String, type: String, blob: [UInt8]) -> String {
        "\(hostName) \(type) \(Data(blob).base64EncodedString())"
    }

    /// Appends a line (`host_key = "accept-new"`), creating the file (0600) and its folder if needed.
    func append(_ line: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? h.close() }
        let end = try h.seekToEnd()
        var text = line + "\n"
        if end > 0 {
            try h.seek(toOffset: end - 1)
            if let last = try h.read(upToCount: 1), last != Data([0x0A]) { text = "\n" + text }
            try h.seekToEnd()
        }
        try h.write(contentsOf: Data(text.utf8))
    }

    /// `SHA256:…` as OpenSSH prints fingerprints (base64 without padding).
    static func fingerprint(sha256: [UInt8]) -> String {
        "SHA256:" + Data(sha256).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    /// Whether a private key file holds an RSA key (PEM or OpenSSH format): libssh2 1.10 signs
    /// only with ssh-rsa (SHA-1), which OpenSSH ≥ 8.8 refuses.
    static func isRSAKey(path: String) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
        if text.contains("BEGIN RSA PRIVATE KEY") { return true }
        guard text.contains("BEGIN OPENSSH PRIVATE KEY") else { return false }
        let body = text.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
        guard let data = Data(base64Encoded: body) else { return false }
        // The public key comes unencrypted near the start: its type string names the algorithm.
        return data.prefix(128).range(of: Data("ssh-rsa".utf8)) != nil
    }
}
