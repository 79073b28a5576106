"""One package per face: each speaks one family of clients' wire format over the services."""
