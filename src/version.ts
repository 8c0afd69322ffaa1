/** Version of awr, printed by `awr --version` and written into reports. */
export const AWR_VERSION = "0.1.0";
