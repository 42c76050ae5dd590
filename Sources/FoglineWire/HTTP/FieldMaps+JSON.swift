public import FoglineCore

extension FieldMaps {
    /// `{name: value}` of `device`'s fields, sorted by name, as both JSON APIs serve twins.
    public func valuesJSON(of device: String) -> JSONValue {
        .object(fields(of: device).sorted { $0.name < $1.name }.map { (key: $0.name, value: JSONValue($0.value)) })
    }

    /// `{name: "HLC"}`: the timestamp of each of `device`'s fields (which write won), sorted by name.
    public func stampsJSON(of device: String) -> JSONValue {
        .object(fields(of: device).sorted { $0.name < $1.name }.map { (key: $0.name, value: .string($0.stamp.description)) })
    }
}
