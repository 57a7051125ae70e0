"""The `rendered` data set: procedural outdoor HDR scenes rendered locally with Mitsuba 3."""
