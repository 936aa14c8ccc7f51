import Foundation

/// Foundation coders used for small state blobs (never per row).
enum JSONEncoderShared {
    static func encode<T: Encodable>(_ v: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return try e.encode(v)
    }
}

enum JSONDecoderShared {
    static func decode<T: Decodable>(_ t: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(t, from: Data(bytes))
    }
}
