extension Simulation {
    /// The report of the run so far.
    public func report() -> SimReport {
        var deviceReports: [DeviceReport] = []
        deviceReports.reserveCapacity(devices.count)
        var profileReports: [ProfileReport] = runtimes.map {
            ProfileReport(profile: $0.profile.kind, devices: $0.deviceCount, totals: DeviceStatistics())
        }
        for device in devices {
            deviceReports.append(DeviceReport(
                id: device.id, profile: runtimes[device.profileIndex].profile.kind,
                lastSeq: device.lastSeq, statistics: device.statistics))
            profileReports[device.profileIndex].totals.add(device.statistics)
        }
        let elapsed = startedAt.map { (finishedAt ?? latestTime) - $0 } ?? 0
        return SimReport(
            site: site, seed: seed, faults: faults.description, elapsedMillis: elapsed,
            devices: deviceReports, profiles: profileReports)
    }
}
