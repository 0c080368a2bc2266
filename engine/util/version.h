/* The release version: printed by `version`, sent in IMAP ID, reported by the daemon. */
#ifndef M2T_VERSION_H
#define M2T_VERSION_H

#define M2T_VERSION "0.1.0"

#endif
