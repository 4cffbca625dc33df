"""Media: ffmpeg (running, probing, rendering), checks of users' files, MP4 headers,
hosted provider inputs and safe result downloads."""
