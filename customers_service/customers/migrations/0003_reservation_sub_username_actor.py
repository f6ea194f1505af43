"""Reservations name the user they were made for and the service that made them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_released_reservation"),
    ]

    operations = [
        migrations.RenameField(
            model_name="reservation", old_name="reserved_by_sub", new_name="sub"
        ),
        migrations.RenameField(
            model_name="reservation",
            old_name="reserved_by_username",
            new_name="username",
        ),
        migrations.AlterField(
            model_name="reservation",
            name="username",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.AddField(
            model_name="reservation",
            name="actor",
            field=models.CharField(blank=True, max_length=255),
        ),
    ]
