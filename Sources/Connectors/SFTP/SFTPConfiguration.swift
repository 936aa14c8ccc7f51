import ConnectorKit
import CoreConnectors
import Foundation
import Logging

/// `type = "sftp"`: files on an SSH server, tailed like a local folder (rsync-style: only new
/// bytes travel).
public struct SFTPConfiguration: PluginConfiguration {
    /// `sftp://user@host[:port]/folder` (absolute; `/~/folder` below the user's home).
    public var url: String
    /// The user, if not in `url`.
    public var username: String?
    /// Private key file (ed25519 or ECDSA; see README for RSA).
    public var privateKey: String?
    /// The key's passphrase, normally `"${ENV_VAR}"`, or `passphrase_file`.
    public var passphrase: Secret?
    public var passphraseFile: String?
    /// Password login, only when asked: `password = "${ENV_VAR}"` or `password_file`.
    public var password: Secret?
    public var passwordFile: String?
    /// OpenSSH known_hosts file the server's key is checked against; default `~/.ssh/known_hosts`.
    public var knownHosts: String?
    public var hostKey: HostKeyPolicy = .strict
    public var connectTimeout: ConfigDuration = ConfigDuration(seconds: 15)
    /// How long one request may wait for the server.
    public var readTimeout: ConfigDuration = ConfigDuration(seconds: 60)
    /// Keepalive interval on an idle connection; "0s" turns it off.
    public var keepalive: ConfigDuration = ConfigDuration(seconds: 30)
    /// `glob`, `recursive`, `settle`, `after_load`, `move_to` (relative to the folder).
    public var selection = FileSelection()

    enum CodingKeys: String, CodingKey {
        case url, username, passphrase, password, keepalive
        case privateKey = "private_key"
        case passphraseFile = "passphrase_file"
        case passwordFile = "password_file"
        case knownHosts = "known_hosts"
        case hostKey = "host_key"
        case connectTimeout = "connect_timeout"
        case readTimeout = "read_timeout"
    }

    public init(url: String) { self.url = url }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        url = try c.decode(String.self, forKey: .url)
        username = try c.decodeIfPresent(String.self, forKey: .username)
        privateKey = try c.decodeIfPresent(String.self, forKey: .privateKey)
        passphrase = try c.decodeIfPresent(Secret.self, forKey: .passphrase)
        passphraseFile = try c.decodeIfPresent(String.self, forKey: .passphraseFile)
        password = try c.decodeIfPresent(Secret.self, forKey: .password)
        passwordFile = try c.decodeIfPresent(String.self, forKey: .passwordFile)
        knownHosts = try c.decodeIfPresent(String.self, forKey: .knownHosts)
        hostKey = try c.decodeIfPresent(HostKeyPolicy.self, forKey: .hostKey) ?? .strict
        connectTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .connectTimeout) ?? connectTimeout
        readTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .readTimeout) ?? readTimeout
        keepalive = try c.decodeIfPresent(ConfigDuration.self, forKey: .keepalive) ?? keepalive
        selection = try FileSelection(from: decoder)
    }

    public func validate() throws {
        _ = try SFTPEndpoint(url: url, username: username)
        let usesPassword = password != nil || passwordFile != nil
        try PasswordSetting.validate(password, file: passwordFile)
        if passphrase != nil && passphraseFile != nil { throw ConfigIssue(key: "passphrase_file", message: "give either passphrase or passphrase_file, not both") }
        if privateKey == nil && !usesPassword { throw ConfigIssue(key: "private_key", message: "is required (or password / password_file for a password login)") }
        if privateKey != nil && usesPassword { throw ConfigIssue(key: password != nil ? "password" : "password_file", message: "give either private_key or a password, not both") }
        if privateKey == nil && (passphrase != nil || passphraseFile != nil) { throw ConfigIssue(key: "passphrase", message: "is only used with private_key") }
        if connectTimeout.seconds <= 0 { throw ConfigIssue(key: "connect_timeout", message: "must be more than 0 s") }
        if readTimeout.seconds <= 0 { throw ConfigIssue(key: "read_timeout", message: "must be more than 0 s") }
        try selection.validate()
    }

    public static let sample = """
        type = "sftp"
        url = "sftp://sluice@line-01.plant.lan/var/log/line"
        glob = "*.csv"
        private_key = "/etc/sluice/keys/id_ed25519"
        known_hosts = "/etc/sluice/known_hosts"
        """
}

extension SFTPConfiguration {
    public func makeSource(context: PluginBuildContext) throws -> TailingSource<SFTPFileSystem> {
        let endpoint = try SFTPEndpoint(url: url, username: username)
        let credential: SSHCredential
        if let privateKey {
            let phrase = try PasswordSetting.resolve(passphrase, file: passphraseFile, context: context, plugin: "sftp")
            credential = .key(path: context.resolve(privateKey), passphrase: phrase)
        } else {
            credential = .password(try PasswordSetting.resolve(password, file: passwordFile, context: context, plugin: "sftp") ?? Secret(""))
        }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
        let known = knownHosts.map(context.resolve) ?? home + "/.ssh/known_hosts"
        var logger = context.logger
        logger[metadataKey: "server"] = "\(endpoint)"
        let session = SSHSession(endpoint: endpoint, credential: credential, knownHostsPath: known, hostKeyPolicy: hostKey,
                                 connectTimeout: connectTimeout.seconds, ioTimeout: readTimeout.seconds, keepalive: keepalive.seconds, logger: logger)
        return TailingSource(fileSystem: SFTPFileSystem(client: session, logger: logger), options: selection.tailerOptions())
    }
}
