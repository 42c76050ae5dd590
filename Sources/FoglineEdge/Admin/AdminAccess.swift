public import FoglineConfig
public import FoglineWire

/// Who may use the admin API: with a token configured, every route but `GET /healthz` needs
/// `Authorization: Bearer TOKEN` (health checks and load balancers probe without one, and the
/// answer says only "ok" or why not). Without a token the API listens on loopback only (the
/// configuration refuses anything else), where the machine's own users are trusted.
public enum AdminAccess {
    /// The 401 answer for `request`, or nil when it may go on.
    public static func refusal(of request: AdminRequest, token: BearerToken?) -> AdminResponse? {
        BearerToken.refusal(method: request.method, path: request.path, authorization: request.authorization, token: token, owner: "this node")
            .map { problem in
                .error(
                    401,
                    "\(problem): send Authorization: Bearer TOKEN with the token of admin.token_file or FOGLINE_ADMIN_TOKEN (fogline-edge commands read FOGLINE_ADMIN_TOKEN or --token-file)")
            }
    }
}
