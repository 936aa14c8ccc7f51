#if canImport(Glibc)
import Glibc
#endif
import ConnectorKit
import CoreConnectors

/// A libsmbclient failure, classified from `errno` and from what was being done.
public struct SMBError: RemoteFileError, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The server refused the user name or password (or the user may not use this share).
        case authenticationFailed
        case shareNotFound
        case notFound
        case permissionDenied
        /// Connection refused, no route, name not resolved: retried with backoff.
        case hostUnreachable
        /// The server and the allowed dialects have none in common (an SMB1-only XP host without
        /// `protocols = "NT1"`, or the reverse).
        case protocolRefused
        case timeout
        /// The connection broke during an operation: retried with backoff.
        case connectionLost
        case other
    }

    public var kind: Kind
    /// `smb://host[:port]/share`.
    public var share: String
    /// Relative to the source's folder; "" for the folder itself.
    public var path: String
    public var code: Int32
    public var message: String

    public var description: String { "\(share): \(message)" }

    /// What the tailer acts on: retry, stop until the next run, or skip the one file.
    public var fileSystemError: FileSystemError {
        let k: FileSystemError.Kind = switch kind {
        case .authenticationFailed: .authentication
        case .shareNotFound, .protocolRefused: .misconfigured
        case .notFound: .notFound
        case .permissionDenied: .permissionDenied
        case .hostUnreachable, .timeout, .connectionLost: .notConnected
        case .other: .other
        }
        return FileSystemError(k, path: path, message)
    }

    static func errnoText(_ code: Int32) -> String {
        guard let s = strerror(code) else { return "errno \(code)" }
        return "\(String(cString: s)) (errno \(code))"
    }
}
