"""Team mode: the shared stores a team's clones and workflows use instead of each machine's own.

`make team-up` starts a loopback stand-in of a team's infrastructure (PostgreSQL, an S3-compatible
object store, an MLflow tracking server in front of both) and writes `.team.env`; `make doctor`
checks whichever stores the variables name, the stand-in's or a team's real ones.
"""
