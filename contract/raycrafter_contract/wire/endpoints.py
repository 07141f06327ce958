"""Where the API's calls live and the headers beside their bodies (docs/protocol.md)."""

# Every call's path begins here; clients are configured with the appliance's address.
API_PATH = "/api/v1"
# The SHA-256 of a body: of a scene the worker downloads, of a frame image it uploads.
CHECKSUM_HEADER = "X-Checksum-Sha256"
# What kind of scene a downloaded input is (pov, tar.gz, zip, ...).
SCENE_KIND_HEADER = "X-Scene-Kind"
# The largest JSON body the API reads (413 beyond it; nginx refuses it unread): a client
# that reports many frames at once splits its report below this.
MAX_JSON_BODY_BYTES = 1024 * 1024
