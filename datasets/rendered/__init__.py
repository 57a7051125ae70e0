"""The `rendered` data set: procedural outdoor HDR scenes rendered with Mitsuba 3 on this machine."""
