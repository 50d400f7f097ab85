internal import CLibPQ

/// The version of the libpq library this process is linked against, e.g. 150018.
public var libpqVersion: Int { Int(PQlibVersion()) }
