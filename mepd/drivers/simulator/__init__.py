"""A faithful MEP meter simulator (the server side), built on `mepd.protocol`."""
