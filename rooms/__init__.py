"""The live session: rooms, participants, roles, media policy and the SFU that relays media."""
